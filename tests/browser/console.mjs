// Drives idnode's web console (/console/) in headless Chromium (Debian's,
// through playwright-core): logs in, opens its pages, reports what they show
// (one JSON object on stdout) and saves a screenshot of each.
// usage: node console.mjs SPEC.json
//   SPEC: {"shots": DIR,
//          "runs": [{"name":..,"url":..,"user":..,"password":..,"locale":"en-US"|"zh-CN",
//                    "width":..,"height":..,"pages":["overview","industries/88.100",..],
//                    "switchLang": true|false,
//                    "source": "own"|"reported" (the figures the pages show; default own)}]}
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
  timeout: 30000,
});

// Runs in the page: what the current view shows.
function look() {
  const txt = (e) => (e ? e.textContent.trim() : null);
  return {
    lang: document.documentElement.lang,
    title: document.title,
    page: document.querySelector("#view")?.dataset.page ?? null,
    loginVisible: document.querySelector("#login").checkVisibility(),
    nav: [...document.querySelectorAll("#nav a")].map((a) => a.textContent),
    who: txt(document.querySelector("#who")),
    errors: [...document.querySelectorAll(".error")].map(txt).filter((s) => s),
    totals: Object.fromEntries([...document.querySelectorAll("[data-total] .n")]
      .map((e) => [e.parentElement.dataset.total, e.textContent])),
    charts: [...document.querySelectorAll("svg[data-kind]")].map((s) => ({
      kind: s.dataset.kind,
      points: Number(s.dataset.points),
      total: Number(s.dataset.total),
      bars: s.querySelectorAll("rect.bar").length,
      barSum: [...s.querySelectorAll("rect.bar")].reduce((a, r) => a + Number(r.dataset.value), 0),
      label: txt(s.querySelector("text.sum")),
      title: txt(s.closest(".chart")?.querySelector("h2")),
      width: s.getBoundingClientRect().width,
    })),
    rows: [...document.querySelectorAll("table.top tbody tr")].map((tr) =>
      [...tr.querySelectorAll("td")].map((td) => td.textContent)),
    sparks: document.querySelectorAll("svg.spark").length,
    healthLabels: [...document.querySelectorAll("tr[data-metric] th")].map(txt),
    health: Object.fromEntries([...document.querySelectorAll("tr[data-metric]")]
      .map((tr) => [tr.dataset.metric, tr.querySelector("td").textContent])),
    handles: [...document.querySelectorAll("ul.handles li")].map((li) => ({
      handle: txt(li.querySelector("code")), link: li.querySelector("a")?.getAttribute("href"),
    })),
    scrollWidth: document.documentElement.scrollWidth,
    source: document.querySelector("#source")?.value ?? null,
    // the most lines any table header's text takes (1: none wraps)
    headerLines: Math.max(0, ...[...document.querySelectorAll("th")].map((th) => {
      const r = document.createRange();
      r.selectNodeContents(th);
      return r.getClientRects().length;
    })),
    innerWidth: window.innerWidth,
  };
}

async function settle(page, name) {
  try {
    await page.waitForFunction((n) => {
      const v = document.querySelector("#view");
      return v && v.dataset.page === n && v.getAttribute("aria-busy") === "false";
    }, name, { timeout: 15000 });
  } catch (e) {
    const state = await page.evaluate(() => ({ hash: location.hash,
      view: document.querySelector("#view")?.outerHTML.slice(0, 300),
      login: document.querySelector("#login-error")?.textContent }));
    throw new Error(`page ${name} not shown: ${JSON.stringify(state)}`);
  }
}

const out = {};
try {
  for (const run of spec.runs) {
    const ctx = await browser.newContext({
      locale: run.locale, viewport: { width: run.width, height: run.height },
    });
    const page = await ctx.newPage();
    const failed = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    page.on("pageerror", (e) => failed.push("error: " + e.message));
    const res = { pages: {}, shots: [], failed };
    await page.goto(run.url, { timeout: 15000 });
    // the figures the pages show ("own" or "reported"), as the page's switch keeps them
    if (run.source) await page.evaluate((s) => sessionStorage.setItem("idn.source", s), run.source);
    res.loginShown = await page.isVisible("#login");
    res.loginTitle = await page.textContent("#login h1");
    await page.fill("#user", run.user);
    await page.fill("#pass", "wrong-" + run.password);
    await page.click("#login button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#login-error").textContent, null,
                               { timeout: 15000 });
    res.badLogin = await page.textContent("#login-error");
    await page.fill("#pass", run.password);
    await page.click("#login button[type=submit]");
    for (const p of run.pages) {
      await page.evaluate((h) => { location.hash = h; }, p);
      await settle(page, p.split("/")[0]);
      const shot = join(spec.shots, `console-${run.name}-${p.replace(/[^\w.]+/g, "_")}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      res.pages[p] = await page.evaluate(look);
      res.shots.push(shot);
    }
    res.token = await page.evaluate(() => sessionStorage.getItem("idn.token") !== null);
    if (run.switchLang) {
      await page.click("#lang");
      await settle(page, run.pages[run.pages.length - 1].split("/")[0]);
      res.switched = await page.evaluate(look);
      const shot = join(spec.shots, `console-${run.name}-switched.png`);
      await page.screenshot({ path: shot, fullPage: true });
      res.shots.push(shot);
    }
    await page.click("#logout");
    res.afterLogout = { login: await page.isVisible("#login"),
      token: await page.evaluate(() => sessionStorage.getItem("idn.token")) };
    out[run.name] = res;
    await ctx.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}

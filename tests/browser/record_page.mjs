// Opens idnode's pages in headless Chromium (Debian's, driven by
// playwright-core) at the sizes given, reports what a person would see (one
// JSON array on stdout) and saves a screenshot of each, plus one with the
// "Technical details" fold opened when the page has one.
// usage: node record_page.mjs SPEC.json
//   SPEC: [{"name":..,"url":..,"width":390,"height":844,"shot":"/path/x.png"}, ...]
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const profile = mkdtempSync(join(tmpdir(), "idn-chromium-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  timeout: 30000,
});

// Runs in the page: what is on it, and whether it fits the screen.
function look() {
  const text = (sel) => document.querySelector(sel)?.textContent ?? null;
  const cells = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent);
  const shown = (e) => !!e && e.checkVisibility();
  const qr = document.querySelector("#qr svg");
  const rect = qr ? qr.getBoundingClientRect() : null;
  const adminCell = [...document.querySelectorAll("#values td.type")]
    .find((e) => e.textContent === "HS_ADMIN");
  // The smallest font of any text a person sees (the fold excluded while closed).
  let minFont = 1e9;
  for (const e of document.querySelectorAll("main *")) {
    if (!shown(e) || ![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))
      continue;
    minFont = Math.min(minFont, parseFloat(getComputedStyle(e).fontSize));
  }
  // Anything sticking out to the right of the screen.
  const wide = [...document.querySelectorAll("main *")]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map((e) => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className).slice(0, 5);
  return {
    title: document.title,
    handle: text("#handle"),
    h1: text("h1"),
    kind: text("#kind"),
    enterprise: text("#enterprise"),
    industry: text("#industry"),
    fields: [...document.querySelectorAll("#fields [data-field]")].map((d) => ({
      name: d.dataset.field,
      label: d.querySelector(".label")?.textContent,
      value: d.querySelector("dd")?.textContent,
    })),
    info: cells("#info dd"),
    techTypes: cells("#values td.type"),
    techOpen: document.querySelector("#tech")?.open ?? null,
    adminShown: shown(adminCell),
    links: [...document.querySelectorAll("main a")].map((a) => a.getAttribute("href")),
    stale: text("#stale"),
    source: text("#source"),
    message: text("#message"),
    qr: rect ? { width: rect.width, height: rect.height } : null,
    scripts: document.querySelectorAll("script").length,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    minFont,
    wide,
  };
}

const out = [];
try {
  for (const s of spec) {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: s.width, height: s.height });
    const dialogs = [];
    page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
    const resp = await page.goto(s.url, { timeout: 15000 });
    const r = await page.evaluate(look);
    r.name = s.name;
    r.status = resp.status();
    await page.screenshot({ path: s.shot, fullPage: true });
    r.shots = [s.shot];
    if (r.techOpen === false) {
      // Opened by a tap, as a person would: no script on the page needed.
      await page.click("#tech summary");
      const opened = await page.evaluate(look);
      r.techOpenedByTap = opened.techOpen;
      r.adminShownOpen = opened.adminShown;
      r.scrollWidthOpen = opened.scrollWidth;
      r.wideOpen = opened.wide;
      const shot = s.shot.replace(/\.png$/, "-open.png");
      await page.screenshot({ path: shot, fullPage: true });
      r.shots.push(shot);
    }
    r.dialogs = dialogs;
    out.push(r);
    await page.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}

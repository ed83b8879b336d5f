// Opens an idnode record page in headless Chromium at a phone's size, reports
// what a person would see (as JSON on stdout) and saves a screenshot.
// usage: node record_page.mjs URL SCREENSHOT.png
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, shot] = process.argv.slice(2);
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
try {
  const page = await ctx.newPage();
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  const resp = await page.goto(url, { timeout: 15000 });
  const out = await page.evaluate(() => {
    const cells = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent);
    const qr = document.querySelector("#qr svg");
    const rect = qr ? qr.getBoundingClientRect() : null;
    return {
      title: document.title,
      handle: document.querySelector("#handle")?.textContent,
      prefix: document.querySelector("#prefix")?.textContent,
      types: cells("#values td.type"),
      data: cells("#values td.data"),
      links: [...document.querySelectorAll("#values a")].map((a) => a.href),
      qr: rect ? { width: rect.width, height: rect.height } : null,
      scripts: document.querySelectorAll("script").length,
      overflowX: document.documentElement.scrollWidth > window.innerWidth,
    };
  });
  out.status = resp.status();
  out.dialogs = dialogs;
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify(out));
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}

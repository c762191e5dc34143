// Which element is the Largest Contentful Paint, and when: signs up on the
// browser suite's server, then loads a page under a slow phone's network and
// CPU and prints every LCP candidate (element, size, time). A diagnostic for
// issue 13 (Lighthouse's own gatherer cannot name the element on Chromium 156).
// Usage: node lcp-probe.mjs [base-url] [path]
import { chromium } from "@playwright/test";

const base = process.argv[2] || "http://127.0.0.1:3100";
const path = process.argv[3] || "/";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
const context = await browser.newContext({ viewport: { width: 412, height: 823 }, isMobile: true, hasTouch: true });
const page = await context.newPage();
const email = `lcp-${Date.now()}@example.com`;
const reg = await page.request.post(`${base}/api/auth/email/register`, { data: { email, password: "correct horse battery" } });
if (reg.status() !== 201) throw new Error(`register: ${reg.status()}`);
await page.request.put(`${base}/api/settings/key`, { data: { apiKey: "sk-e2e-key-0001" } });
const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
await cdp.send("Network.emulateNetworkConditions", {
  offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8,
});
await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
await page.addInitScript(() => {
  const w = window;
  w.__lcp = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const el = e.element;
      const desc = el ? `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")} "${(el.textContent || "").trim().slice(0, 60)}"` : "(removed)";
      w.__lcp.push({ t: Math.round(e.startTime), size: e.size, desc, hydrated: document.body.dataset.hydrated === "true" });
    }
  }).observe({ type: "largest-contentful-paint", buffered: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) w.__lcp.push({ t: Math.round(e.startTime), size: 0, desc: `paint ${e.name}`, hydrated: document.body?.dataset.hydrated === "true" });
  }).observe({ type: "paint", buffered: true });
});
await page.goto(`${base}${path}`, { waitUntil: "load" });
await page.waitForSelector("body[data-hydrated='true']", { timeout: 60_000 });
await page.waitForTimeout(1500);
const hydratedAt = await page.evaluate(() => performance.now());
console.log(JSON.stringify(await page.evaluate(() => window.__lcp), null, 1));
console.log("checked at", Math.round(hydratedAt), "ms");
await browser.close();

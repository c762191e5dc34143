// The streaming-render benchmark (docs/benchmarks.md, "Streaming render
// (issue 11)"): the browser suite's server and browser, desktop size only.
//   cd end2end && E2E_PORT=3200 CHROMIUM_PATH=/usr/bin/chromium npx playwright test -c bench/playwright.config.ts
import { defineConfig } from "@playwright/test";
import base from "../playwright.config";

const port = Number(process.env.E2E_PORT || 3100);

export default defineConfig({
  ...base,
  testDir: ".",
  testMatch: "stream-render.ts",
  timeout: 600_000,
  retries: 0,
  // Playwright's trace snapshots the whole DOM at each step: it would be
  // measured as the page's cost (docs/benchmarks.md, "What the long tasks were").
  use: { ...base.use, trace: "off" },
  outputDir: "../test-results/bench",
  projects: [{ name: "desktop", use: { viewport: { width: 1440, height: 900 } } }],
  webServer: { ...(base.webServer as object), command: `bash ../serve-e2e.sh ${port}` },
});

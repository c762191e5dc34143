// Browser tests against the release build, in Debian's Chromium (never a
// downloaded browser). Each run starts the server on a fresh SQLite database.
import { defineConfig } from "@playwright/test";
import { PORT, GUEST_PORT } from "./tests/helpers";

const chromium = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export default defineConfig({
  testDir: "./tests",
  timeout: 120_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  // One retry in CI for rare stalls of a page load on the shared 2-core machine;
  // a test still fails when it fails twice.
  retries: process.env.CI ? 1 : 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "phone", use: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } },
    { name: "tablet", use: { viewport: { width: 820, height: 1180 }, hasTouch: true } },
    { name: "desktop", use: { viewport: { width: 1440, height: 900 } } },
  ],
  webServer: [
    // Accounts only (ALLOW_GUESTS=false): every spec but guests.spec.ts.
    {
      command: `bash ./serve-e2e.sh ${PORT}`,
      url: `http://127.0.0.1:${PORT}/readyz`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
    },
    // The default configuration, guests allowed, with 5 answers a day per
    // guest on the operator's key (guests.spec.ts).
    {
      command: `ALLOW_GUESTS=true GUEST_SERVER_KEY=true MISTRAL_API_KEY=sk-e2e-operator-0000 GUEST_DAILY_MESSAGES=5 GUEST_IP_DAILY_MESSAGES=1000 GUEST_CREATIONS_PER_IP_HOUR=1000 bash ./serve-e2e.sh ${GUEST_PORT}`,
      url: `http://127.0.0.1:${GUEST_PORT}/readyz`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
    },
  ],
});

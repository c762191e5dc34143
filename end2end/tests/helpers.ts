import { Page, expect, TestInfo } from "@playwright/test";

/** The port of the accounts-only server (ALLOW_GUESTS=false). */
export const PORT = Number(process.env.E2E_PORT || 3100);
/** The second server, in the default configuration with guests allowed. */
export const GUEST_PORT = PORT + 2;
export const GUEST_BASE_URL = `http://127.0.0.1:${GUEST_PORT}`;

/** Waits until the WASM has hydrated the server-rendered page. */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated='true']")).toHaveCount(1);
}

/** A unique email per test and project. */
export function uniqueEmail(info: TestInfo, tag: string) {
  return `${tag}-${info.project.name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Screenshot into end2end/screenshots/<project>/<name>.png (ignored by git). */
export async function shot(page: Page, info: TestInfo, name: string) {
  await page.screenshot({ path: `screenshots/${info.project.name}/${name}.png`, fullPage: true });
}

/** The document never scrolls sideways. */
export async function noHorizontalOverflow(page: Page) {
  const { sw, cw } = await page.evaluate(() => ({
    sw: document.documentElement.scrollWidth,
    cw: document.documentElement.clientWidth,
  }));
  expect(sw).toBeLessThanOrEqual(cw);
}

/** Opens the sidebar drawer on small screens (no-op where it is a column). */
export async function openSidebar(page: Page) {
  const toggle = page.getByTestId("sidebar-toggle");
  if (!(await toggle.isVisible())) return;
  const open = await page.locator(".app.sidebar-open").count();
  if (!open) await toggle.click();
  await expect(page.locator(".app.sidebar-open")).toHaveCount(1);
}

/**
 * Records every Content-Security-Policy violation the page reports (the
 * `securitypolicyviolation` event, in every document the page loads) and
 * every console message about the CSP or the Permissions-Policy header.
 * Returns the live list; a clean flow leaves it empty. Within one document
 * the events are also kept in `window.__cspViolations` (directive, blocked
 * URI) for tests that provoke a violation on purpose.
 */
export async function trackCspViolations(page: Page): Promise<string[]> {
  const seen: string[] = [];
  await page.exposeFunction("__reportCspViolation", (v: string) => {
    seen.push(v);
  });
  await page.addInitScript(() => {
    const w = window as any;
    w.__cspViolations = [];
    document.addEventListener(
      "securitypolicyviolation",
      (e: SecurityPolicyViolationEvent) => {
        const v = { directive: e.violatedDirective, effective: e.effectiveDirective, blocked: e.blockedURI };
        w.__cspViolations.push(v);
        w.__reportCspViolation(`${location.pathname}: ${v.directive} blocked ${v.blocked || "inline"}`);
      },
      true,
    );
  });
  page.on("console", (m) => {
    const text = m.text();
    if (/Content[ -]Security[ -]Policy|Permissions[ -]Policy/i.test(text)) seen.push(`console ${m.type()}: ${text}`);
  });
  return seen;
}

/** Registers a fresh user (signed in by the cookie) with a Mistral key saved. */
export async function signUpWithKey(page: Page, tag: string, info: TestInfo) {
  const email = uniqueEmail(info, tag);
  const reg = await page.request.post("/api/auth/email/register", { data: { email, password: "correct horse battery" } });
  expect(reg.status()).toBe(201);
  const key = await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-key-0001" } });
  expect(key.status()).toBe(200);
}

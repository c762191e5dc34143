// Content-Security-Policy in the browser: every page of the normal flow is
// served with the nonce policy, hydrates under it and reports no violation
// (math with presentation styles included); markup that slips into a message
// body cannot run script, neither as an event-handler attribute nor as an
// injected <script>.
import { test, expect, Page, Response } from "@playwright/test";
import { hydrated, trackCspViolations, uniqueEmail } from "./helpers";

const PASSWORD = "correct horse battery";

/** The page response carries the nonce policy: no inline script without it. */
function expectPagePolicy(resp: Response | null) {
  expect(resp, "a document response").not.toBeNull();
  const policy = resp!.headers()["content-security-policy"] ?? "";
  const script = policy.split(";").map((d) => d.trim()).find((d) => d.startsWith("script-src "));
  expect(script, policy).toMatch(/^script-src 'self' 'nonce-[A-Za-z0-9_-]{22,}' 'wasm-unsafe-eval'$/);
  for (const d of ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "connect-src 'self'"]) {
    expect(policy).toContain(d);
  }
  expect(resp!.headers()["x-content-type-options"]).toBe("nosniff");
  expect(resp!.headers()["permissions-policy"]).toContain("microphone=(self)");
}

function uuid() {
  const h = Array.from({ length: 32 }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20)}`;
}

/** A thread with an answer that uses TeX presentation styles (colour,
 * negative space: MathML `style` attributes) and highlighted code. */
async function threadWithStyledMath(page: Page) {
  const t = await page.request.post("/api/thread", { data: { action: "create", data: { name: "Styled math" } } });
  expect(t.status()).toBe(201);
  const id = (await t.json()).thread.id;
  const u = uuid(), a = uuid();
  const answer = [
    "Colour and spacing: $\\color{red}{x} + a\\!b$",
    "",
    "$$\\frac{1}{2}$$",
    "",
    "```rust",
    "fn main() {}",
    "```",
  ].join("\n");
  const r = await page.request.post("/api/thread", {
    data: {
      action: "sync",
      messages: [
        { idMessage: u, idThread: id, role: "user", text: "Show me", date: Date.now() - 2000 },
        { idMessage: a, idThread: id, role: "assistant", text: answer, parentId: u, date: Date.now() - 1000 },
      ],
    },
  });
  expect((await r.json()).inserted).toBe(2);
  return id as string;
}

test("every page of the normal flow runs under the CSP without a violation", async ({ page, browser }, info) => {
  const violations = await trackCspViolations(page);
  const email = uniqueEmail(info, "csp");

  // Sign-in page, then create an account through the form.
  expectPagePolicy(await page.goto("/login"));
  await hydrated(page);
  await page.getByTestId("auth-switch").click();
  await page.getByLabel("Name (optional)").fill("Policy Tester");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  expect((await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-key-0001" } })).status()).toBe(200);

  // Home, then a streamed answer (EventSource under connect-src 'self').
  expectPagePolicy(await page.goto("/"));
  await hydrated(page);
  await page.getByTestId("composer-input").fill("Hello policy");
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  const answer = page.locator("[data-testid='message'][data-role='assistant']").last();
  await expect(answer).toContainText("That is all from the fake Mistral.", { timeout: 20_000 });

  // The thread page rendered by the server, then a thread with styled math.
  expectPagePolicy(await page.reload());
  await hydrated(page);
  const mathThread = await threadWithStyledMath(page);
  expectPagePolicy(await page.goto(`/t/${mathThread}`));
  await hydrated(page);
  const styled = page.locator("[data-testid='message'][data-role='assistant'] math [style]");
  await expect(styled.first()).toBeAttached();
  await expect(page.locator(".code-block .tok-k").first()).toHaveText("fn");

  // Settings pages, with a theme switch.
  for (const path of ["/settings/account", "/settings/models", "/settings/appearance"]) {
    expectPagePolicy(await page.goto(path));
    await hydrated(page);
  }
  await page.getByTestId("theme-dark").check();
  await expect(page.locator("html[data-theme='dark']")).toHaveCount(1);

  // The 404 page.
  expectPagePolicy(await page.goto("/no/such/page"));
  await hydrated(page);

  // The public share page, seen by an anonymous visitor.
  const share = await page.request.post("/api/thread", { data: { action: "share", idThread: mathThread } });
  expect(share.status()).toBe(200);
  const code = (await share.json()).shareCode;
  const visitor = await browser.newContext();
  const anon = await visitor.newPage();
  const anonViolations = await trackCspViolations(anon);
  expectPagePolicy(await anon.goto(`/s/${code}`));
  await hydrated(anon);
  await expect(anon.locator("math [style]").first()).toBeAttached();
  await visitor.close();

  expect(violations).toEqual([]);
  expect(anonViolations).toEqual([]);
});

test("script smuggled into a message body is blocked by the policy", async ({ page }, info) => {
  const violations = await trackCspViolations(page);
  let dialogs = 0;
  page.on("dialog", (d) => {
    dialogs++;
    d.dismiss();
  });
  const email = uniqueEmail(info, "csp-inject");
  expect((await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  const id = await threadWithStyledMath(page);
  await page.goto(`/t/${id}`);
  await hydrated(page);
  expect(violations, "a clean page first").toEqual([]);

  // As if the renderer had let an event-handler attribute through: the
  // image fails to load, and its inline handler must not run.
  await page.evaluate(() => {
    const body = document.querySelector("[data-testid='message'][data-role='assistant'] .message-body");
    if (!body) throw new Error("no message body");
    body.innerHTML = '<img src="/no-such-image.png" onerror="window.__ran = 1; alert(1)">';
  });
  await expect
    .poll(() => page.evaluate(() => (window as any).__cspViolations.map((v: any) => v.directive)))
    .toContainEqual(expect.stringMatching(/^script-src/));
  expect(await page.evaluate(() => (window as any).__ran)).toBeUndefined();

  // An inline <script> element added to the document.
  const before = await page.evaluate(() => (window as any).__cspViolations.length);
  await page.evaluate(() => {
    const s = document.createElement("script");
    s.textContent = "window.__ran2 = 1; alert(2)";
    document.body.append(s);
  });
  await expect
    .poll(() => page.evaluate((n) => (window as any).__cspViolations.slice(n).map((v: any) => v.directive), before), {
      timeout: 5_000,
    })
    .toContainEqual(expect.stringMatching(/^script-src/));
  expect(await page.evaluate(() => (window as any).__ran2)).toBeUndefined();
  expect(dialogs).toBe(0);
});

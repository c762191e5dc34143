// The app shell: every keyboard shortcut, both themes, no sideways scrolling,
// and an automated accessibility pass (axe-core) with no serious violations.
import { test, expect, Page } from "@playwright/test";
import { hydrated, uniqueEmail, shot, noHorizontalOverflow } from "./helpers";
import * as fs from "fs";
import * as path from "path";

const PASSWORD = "correct horse battery";
const WIDE_MD = [
  "Here is a wide table and a long code block:",
  "",
  "| column one | column two | column three | column four | column five | column six |",
  "|---|---|---|---|---|---|",
  "| a very long cell value that keeps going | another long value here | more | and more text | even more | last one |",
  "",
  "```rust",
  "fn main() { let a_really_long_variable_name_that_does_not_fit = \"x\".repeat(400); println!(\"{}\", a_really_long_variable_name_that_does_not_fit); }",
  "```",
].join("\n");

function uuid() {
  const h = "0123456789abcdef";
  let s = "";
  for (let i = 0; i < 32; i++) s += h[Math.floor(Math.random() * 16)];
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-8${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

async function setup(page: Page, info: any) {
  const email = uniqueEmail(info, "shell");
  expect((await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-shell-0001" } });
  const t = await page.request.post("/api/thread", { data: { action: "create", data: { name: "Wide content" } } });
  const id = (await t.json()).thread.id;
  const u = uuid(), a = uuid();
  const r = await page.request.post("/api/thread", {
    data: {
      action: "sync",
      messages: [
        { idMessage: u, idThread: id, role: "user", text: "Show me something wide", date: Date.now() - 2000 },
        { idMessage: a, idThread: id, role: "assistant", text: WIDE_MD, parentId: u, date: Date.now() - 1000 },
      ],
    },
  });
  expect((await r.json()).inserted).toBe(2);
  return id as string;
}

async function axe(page: Page) {
  // Evaluated through the DevTools protocol: the page's CSP (rightly) blocks
  // the inline <script> that addScriptTag would insert.
  await page.evaluate(fs.readFileSync(path.join(__dirname, "..", "node_modules", "axe-core", "axe.min.js"), "utf8"));
  const violations = await page.evaluate(async () => {
    // @ts-ignore
    const r = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v: any) => v.impact === "serious" || v.impact === "critical")
      .map((v: any) => `${v.id}: ${v.help} (${v.nodes.map((n: any) => n.target.join(" ")).slice(0, 3).join(", ")})`);
  });
  expect(violations, violations.join("\n")).toEqual([]);
}

for (const scheme of ["light", "dark"] as const) {
  test(`screens, overflow and accessibility in ${scheme} mode`, async ({ page }, info) => {
    await page.emulateMedia({ colorScheme: scheme });
    const id = await setup(page, info);
    for (const [url, name] of [
      ["/", "empty-state"],
      [`/t/${id}`, "thread-wide"],
      ["/settings/account", "settings-account"],
      ["/settings/models", "settings-models"],
      ["/settings/appearance", "settings-appearance"],
    ]) {
      await page.goto(url, { waitUntil: "domcontentloaded" });
      await hydrated(page);
      await page.waitForTimeout(300);
      await noHorizontalOverflow(page);
      await shot(page, info, `${name}-${scheme}`);
      await axe(page);
    }
    await page.goto(`/t/${id}`, { waitUntil: "domcontentloaded" });
    await hydrated(page);
    await page.keyboard.press("Control+Slash");
    await expect(page.getByTestId("shortcut-help")).toBeVisible();
    await shot(page, info, `shortcuts-${scheme}`);
    await axe(page);
  });
}

/** Ctrl+Alt+P, Ctrl+Alt+M, Ctrl+Alt+N, each as soon as the URL has changed: the new chat shows. */
async function settingsModelsThenNewChat(page: Page) {
  await page.keyboard.press("Control+Alt+KeyP");
  await expect(page).toHaveURL(/\/settings\/account$/);
  await page.keyboard.press("Control+Alt+KeyM");
  await expect(page).toHaveURL(/\/settings\/models$/);
  await page.keyboard.press("Control+Alt+KeyN");
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("welcome-model")).toBeVisible();
}

test("every keyboard shortcut", async ({ page, context }, info) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const id = await setup(page, info);
  await page.goto(`/t/${id}`);
  await hydrated(page);

  await page.keyboard.press("Control+Slash");
  await expect(page.getByTestId("shortcut-help")).toBeVisible();
  await expect(page.getByTestId("shortcut-help")).toContainText("Copy the last answer");
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("shortcut-help")).toHaveCount(0);

  await page.keyboard.press("Shift+Escape");
  await expect(page.getByTestId("composer-input")).toBeFocused();

  await page.keyboard.press("Control+Shift+KeyC");
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toContain("Here is a wide table");

  // Alt+↑ focuses the last message, Alt+↑ again the one before.
  await page.getByTestId("thread-view").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("Alt+ArrowUp");
  await expect(page.locator("[data-testid='message'][data-role='assistant']")).toBeFocused();
  await page.keyboard.press("Alt+ArrowUp");
  await expect(page.locator("[data-testid='message'][data-role='user']")).toBeFocused();
  await page.keyboard.press("Alt+ArrowDown");
  await expect(page.locator("[data-testid='message'][data-role='assistant']")).toBeFocused();

  // C copies the focused message, R regenerates it, ←/→ switch versions.
  await page.evaluate(() => navigator.clipboard.writeText(""));
  await page.keyboard.press("KeyC");
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toContain("| column one |");
  await page.keyboard.press("KeyR");
  const answer = page.locator("[data-testid='message'][data-role='assistant']").last();
  await expect(answer.getByTestId("version-label")).toHaveText("2/2");
  await expect(answer).toContainText("That is all from the fake Mistral.", { timeout: 15_000 });
  await answer.focus();
  await page.keyboard.press("ArrowLeft");
  await expect(page.locator("[data-testid='message'][data-role='assistant']").last().getByTestId("version-label")).toHaveText("1/2");
  await page.locator("[data-testid='message'][data-role='assistant']").last().focus();
  await page.keyboard.press("ArrowRight");
  await expect(page.locator("[data-testid='message'][data-role='assistant']").last().getByTestId("version-label")).toHaveText("2/2");

  // E edits the focused question; Esc cancels.
  await page.locator("[data-testid='message'][data-role='user']").focus();
  await page.keyboard.press("KeyE");
  await expect(page.getByTestId("edit-input")).toBeVisible();
  await page.getByTestId("edit-input").press("Escape");
  await expect(page.getByTestId("edit-input")).toHaveCount(0);

  // Letters typed in the composer never trigger anything.
  await page.getByTestId("composer-input").fill("");
  await page.getByTestId("composer-input").type("ercrec");
  await expect(page.getByTestId("composer-input")).toHaveValue("ercrec");
  await expect(page.getByTestId("edit-input")).toHaveCount(0);

  // Sidebar toggle.
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press("Control+Shift+KeyS");
  const wide = (page.viewportSize()?.width ?? 0) >= 1024;
  if (wide) {
    await expect(page.locator(".app.sidebar-collapsed")).toHaveCount(1);
    await page.keyboard.press("Control+Shift+KeyS");
    await expect(page.locator(".app.sidebar-collapsed")).toHaveCount(0);
  } else {
    await expect(page.locator(".app.sidebar-open")).toHaveCount(1);
    await page.keyboard.press("Escape");
    await expect(page.locator(".app.sidebar-open")).toHaveCount(0);
  }

  await page.keyboard.press("Control+Alt+KeyF");
  await expect(page.getByTestId("thread-search")).toBeFocused();
  await page.keyboard.press("Escape");

  await settingsModelsThenNewChat(page);
});

test("a page whose code is still loading never replaces the page opened after it", async ({ page }, info) => {
  await setup(page, info);
  // Settings pages are lazily loaded chunks; on a slow connection they take
  // a while. Three quick navigations: the last one wins, whatever arrives last.
  let inFlight = 0;
  let requested = 0;
  await page.route(/\/pkg\/(chunk_[^/]*\.wasm|__wasm_split_manifest[^/]*)$/, async (route) => {
    inFlight++;
    requested++;
    await new Promise((r) => setTimeout(r, 800));
    await route.continue();
    inFlight--;
  });
  await page.goto("/");
  await hydrated(page);
  await settingsModelsThenNewChat(page);
  // Once every chunk asked for has arrived (none in flight and no new
  // request for 2 s), the new chat is still what shows.
  let quiet = 0;
  let seen = -1;
  for (let i = 0; i < 60 && quiet < 4; i++) {
    await page.waitForTimeout(500);
    quiet = inFlight === 0 && requested === seen ? quiet + 1 : 0;
    seen = requested;
  }
  expect(requested, "chunks requested").toBeGreaterThan(0);
  expect(inFlight, "chunks still loading").toBe(0);
  await expect(page.getByTestId("welcome-model")).toBeVisible();
  await expect(page.getByTestId("api-key-input")).toHaveCount(0);
  await expect(page).toHaveURL(/\/$/);
  // And the models page still opens when asked for.
  await page.keyboard.press("Control+Alt+KeyM");
  await expect(page.getByTestId("api-key-input")).toBeVisible({ timeout: 30_000 });
});

test("focus stays inside a dialog and goes back to where it was", async ({ page }, info) => {
  const id = await setup(page, info);
  await page.goto(`/t/${id}`, { waitUntil: "domcontentloaded" });
  await hydrated(page);
  await page.getByTestId("composer-input").focus();
  await page.keyboard.press("Control+Slash");
  const dialog = page.getByTestId("shortcut-help");
  await expect(dialog).toBeVisible();
  const inDialog = () =>
    page.evaluate(() => !!document.activeElement?.closest("[data-testid='shortcut-help']"));
  expect(await inDialog()).toBe(true);
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press("Tab");
    expect(await inDialog(), `Tab #${i + 1} left the dialog`).toBe(true);
  }
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press("Shift+Tab");
    expect(await inDialog(), `Shift+Tab #${i + 1} left the dialog`).toBe(true);
  }
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("composer-input")).toBeFocused();
});

test("a transient failure shows a toast that says what to do", async ({ page }, info) => {
  const id = await setup(page, info);
  await page.goto(`/t/${id}`, { waitUntil: "domcontentloaded" });
  await hydrated(page);
  // The regenerate request fails on the network, as when the connection drops.
  await page.route("**/rpc/regenerate_message**", (route) => route.abort("connectionreset"));
  const answer = page.locator("[data-testid='message'][data-role='assistant']").last();
  await answer.focus();
  await page.keyboard.press("KeyR");
  const toast = page.getByTestId("toast");
  await expect(toast).toHaveCount(1);
  await expect(toast).toContainText("Could not regenerate the answer");
  await expect(toast).toContainText("Try again.");
  await expect(page.getByTestId("toasts")).toHaveAttribute("aria-live", "polite");
  await noHorizontalOverflow(page);
  await shot(page, info, "toast");
  await toast.getByRole("button", { name: "Dismiss notification" }).click();
  await expect(toast).toHaveCount(0);
  // Nothing was lost: still one answer, and the retry works once the network is back.
  await expect(page.locator("[data-testid='message'][data-role='assistant']")).toHaveCount(1);
  await page.unroute("**/rpc/regenerate_message**");
  await answer.focus();
  await page.keyboard.press("KeyR");
  await expect(answer.getByTestId("version-label")).toHaveText("2/2");
});

test("the theme chosen in settings follows the user to another browser", async ({ page, browser }, info) => {
  await page.emulateMedia({ colorScheme: "light" });
  const email = uniqueEmail(info, "theme");
  expect((await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  await page.goto("/settings/appearance", { waitUntil: "domcontentloaded" });
  await hydrated(page);
  await page.getByTestId("theme-dark").check();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const darkBg = await bg();
  // Reload: the server renders the dark theme right away.
  await page.goto("/", { waitUntil: "domcontentloaded" });
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  expect(await bg()).toBe(darkBg);

  // Another browser (no theme cookie), light system scheme: the saved choice wins.
  const other = await browser.newContext({
    baseURL: info.project.use.baseURL,
    colorScheme: "light",
    viewport: page.viewportSize() ?? undefined,
  });
  const p2 = await other.newPage();
  expect((await p2.request.post("/api/auth/email/login", { data: { email, password: PASSWORD } })).status()).toBe(200);
  await p2.goto("/", { waitUntil: "domcontentloaded" });
  await hydrated(p2);
  await expect(p2.locator("html")).toHaveAttribute("data-theme", "dark");
  expect(await p2.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(darkBg);
  await other.close();
});

test("a swipe from the left edge opens the drawer, a swipe left closes it", async ({ page }, info) => {
  await setup(page, info);
  await page.goto("/", { waitUntil: "domcontentloaded" });
  await hydrated(page);
  const swipe = (x0: number, x1: number) =>
    page.evaluate(([x0, x1]) => {
      const target = document.querySelector("main")!;
      const t = (x: number) => new Touch({ identifier: 1, target, clientX: x, clientY: 400 });
      target.dispatchEvent(new TouchEvent("touchstart", { touches: [t(x0)], changedTouches: [t(x0)], bubbles: true }));
      target.dispatchEvent(new TouchEvent("touchend", { touches: [], changedTouches: [t(x1)], bubbles: true }));
    }, [x0, x1]);
  const wide = (page.viewportSize()?.width ?? 0) >= 1024;
  await swipe(4, 220);
  if (wide) {
    // The sidebar is a column here: gestures change nothing.
    await expect(page.locator(".app.sidebar-open")).toHaveCount(0);
    await expect(page.locator("nav.sidebar")).toBeVisible();
    return;
  }
  await expect(page.locator(".app.sidebar-open")).toHaveCount(1);
  await swipe(300, 60);
  await expect(page.locator(".app.sidebar-open")).toHaveCount(0);
  // A swipe that does not start at the edge (e.g. scrolling code sideways) does nothing.
  await swipe(150, 380);
  await expect(page.locator(".app.sidebar-open")).toHaveCount(0);
});

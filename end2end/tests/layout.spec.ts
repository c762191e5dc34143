// Layout at phone, tablet and desktop sizes: tables, plain-text titles, the
// composer row, touch targets, form styling, settings tabs, the "Model &
// context" panel and the shortcut help without a keyboard.
import { test, expect, Page, Locator } from "@playwright/test";
import { hydrated, uniqueEmail, shot, noHorizontalOverflow, openSidebar } from "./helpers";

const PASSWORD = "correct horse battery";
/** Starts with "magistral": a reasoning model, so the composer offers Think. */
const LONG_MODEL = "magistral-medium-latest-with-a-very-long-name-for-layout-tests";

const TABLE_MD = [
  "A table with short headers and one long column:",
  "",
  "| Name | Role | Engineer | Notes |",
  "|---|---|---|---|",
  `| Ada | Lead | Yes | ${"a long note that goes on and on ".repeat(12)}|`,
  "| Linus | Kernel | Yes | short |",
].join("\n");
const WIDE_WORDS = Array.from({ length: 10 }, (_, i) => `Supercalifragilistic${i}`);
const WIDE_TABLE_MD = [
  "A table wider than any screen:",
  "",
  `| ${WIDE_WORDS.join(" | ")} |`,
  `|${"---|".repeat(WIDE_WORDS.length)}`,
  `| ${WIDE_WORDS.map((w) => w.toLowerCase()).join(" | ")} |`,
].join("\n");
const CODE_MD = ["Some code:", "", "```rust", 'fn main() { println!("hi"); }', "```"].join("\n");

function uuid() {
  const h = "0123456789abcdef";
  let s = "";
  for (let i = 0; i < 32; i++) s += h[Math.floor(Math.random() * 16)];
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-8${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

async function signUp(page: Page, info: any, tag: string) {
  const email = uniqueEmail(info, tag);
  expect((await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  expect((await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-layout-0001" } })).status()).toBe(200);
}

/** A thread with the given answers (each after a short question), via sync. */
async function threadWith(page: Page, name: string, answers: { text: string; thinking?: string }[]) {
  const t = await page.request.post("/api/thread", { data: { action: "create", data: { name } } });
  const id = (await t.json()).thread.id as string;
  const messages: any[] = [];
  let parent: string | undefined;
  const start = Date.now() - 10_000 * (answers.length + 1);
  answers.forEach((a, i) => {
    const q = uuid(), r = uuid();
    messages.push({ idMessage: q, idThread: id, role: "user", text: `Question ${i + 1}`, parentId: parent, date: start + i * 10_000 });
    messages.push({ idMessage: r, idThread: id, role: "assistant", text: a.text, thinking: a.thinking, parentId: q, date: start + i * 10_000 + 5_000 });
    parent = r;
  });
  const res = await page.request.post("/api/thread", { data: { action: "sync", messages } });
  expect((await res.json()).inserted).toBe(messages.length);
  return id;
}

async function openThread(page: Page, id: string) {
  await page.goto(`/t/${id}`, { waitUntil: "domcontentloaded" });
  await hydrated(page);
}

/** How many lines an element's text takes. */
function lineCount(el: Locator) {
  return el.evaluate((node) => {
    const r = document.createRange();
    r.selectNodeContents(node);
    return new Set(Array.from(r.getClientRects()).map((x) => Math.round(x.top))).size;
  });
}

test("empty chat and a long thread with tables, at every size", async ({ page }, info) => {
  await signUp(page, info, "layout-shots");
  await page.goto("/", { waitUntil: "domcontentloaded" });
  await hydrated(page);
  await noHorizontalOverflow(page);
  await shot(page, info, "layout-empty-chat");

  const answers = Array.from({ length: 8 }, (_, i) => ({ text: `Answer number ${i + 1}. ${"Some text. ".repeat(20)}` }));
  answers.push({ text: CODE_MD }, { text: TABLE_MD }, { text: WIDE_TABLE_MD });
  const id = await threadWith(page, "Long thread with tables", answers);
  await openThread(page, id);
  await expect(page.locator(".markdown table")).toHaveCount(2);
  await noHorizontalOverflow(page);
  await shot(page, info, "layout-long-thread");
});

test("table cells never break inside a word; a wide table scrolls in its own box", async ({ page }, info) => {
  await signUp(page, info, "layout-table");
  const id = await threadWith(page, "Tables", [{ text: TABLE_MD }, { text: WIDE_TABLE_MD }]);
  await openThread(page, id);
  const [narrow, wide] = [page.locator(".table-wrap").nth(0), page.locator(".table-wrap").nth(1)];
  await expect(narrow.locator("th")).toHaveCount(4);

  // Every one-word cell is on one line and its text fits its box.
  const cells = narrow.locator("th, td").filter({ hasNotText: "long note" });
  const broken: string[] = [];
  for (const cell of await cells.all()) {
    const lines = await lineCount(cell);
    const fits = await cell.evaluate((c) => c.scrollWidth <= c.clientWidth);
    if (lines !== 1 || !fits) broken.push(`${await cell.textContent()} (${lines} lines)`);
  }
  expect(broken, `cells broken inside a word: ${broken.join(", ")}`).toEqual([]);
  for (const cell of await wide.locator("th, td").all()) {
    expect(await lineCount(cell), `${await cell.textContent()}`).toBe(1);
  }

  // The wide table scrolls sideways inside its wrapper; the page does not.
  const { sw, cw } = await wide.evaluate((w) => ({ sw: w.scrollWidth, cw: w.clientWidth }));
  expect(sw).toBeGreaterThan(cw);
  await wide.evaluate((w) => (w.scrollLeft = 200));
  expect(await wide.evaluate((w) => w.scrollLeft)).toBeGreaterThan(0);
  await noHorizontalOverflow(page);
});

test("titles made from a markdown question are plain text", async ({ page }, info) => {
  await signUp(page, info, "layout-title");
  await page.goto("/", { waitUntil: "domcontentloaded" });
  await hydrated(page);
  // A long second line keeps the answer streaming (the title model runs after
  // it), so the first-line name is what the page shows meanwhile.
  const words = Array.from({ length: 80 }, (_, i) => `w${i}`).join(" ");
  await page.getByTestId("composer-input").fill(`**Bold** \`code\` question\n${words}`);
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  await expect(page.locator(".thread-title")).toHaveText("Bold code question");
  await expect(page).toHaveTitle(/^Bold code question · /);
  await openSidebar(page);
  await expect(page.locator(".thread-item.active .thread-name")).toHaveText("Bold code question");
  // The title model's name (the fake echoes the prompt) is plain text too.
  await expect(page.locator(".thread-title")).toHaveText(/^You said: Question/, { timeout: 20_000 });
  for (const text of [await page.locator(".thread-title").innerText(), await page.title(),
    await page.locator(".thread-item.active .thread-name").innerText()]) {
    expect(text).not.toMatch(/[*`]/);
  }
});

test("Send stays at the composer's right edge, on the model picker's row", async ({ page }, info) => {
  await signUp(page, info, "layout-composer");
  for (const model of ["mistral-small-latest", LONG_MODEL]) {
    const r = await page.request.put("/api/settings", { data: { defaultModel: model } });
    expect(r.status()).toBe(200);
    await page.goto("/", { waitUntil: "domcontentloaded" });
    await hydrated(page);
    await expect(page.getByTestId("model-picker")).toHaveValue(model);
    // Both can reason (the fake lists mistral-small-latest as a reasoning
    // model): Think shares the row.
    await expect(page.getByTestId("think-toggle")).toBeVisible();
    await page.getByTestId("composer-input").fill("Hello");
    const bar = await page.locator(".composer-bar").boundingBox();
    const send = await page.getByTestId("send").boundingBox();
    const picker = await page.getByTestId("model-picker").boundingBox();
    expect(bar && send && picker).toBeTruthy();
    expect(Math.abs(bar!.x + bar!.width - (send!.x + send!.width)), `${model}: Send at the right edge`).toBeLessThanOrEqual(3);
    const mid = (b: { y: number; height: number }) => b.y + b.height / 2;
    expect(Math.abs(mid(send!) - mid(picker!)), `${model}: Send on the picker's row`).toBeLessThanOrEqual(4);
    expect(picker!.x + picker!.width).toBeLessThanOrEqual(send!.x);
    await noHorizontalOverflow(page);
    await shot(page, info, `layout-composer-${model === LONG_MODEL ? "long" : "short"}`);
  }
});

test("Think is a toggle button", async ({ page }, info) => {
  await signUp(page, info, "layout-think");
  expect((await page.request.put("/api/settings", { data: { defaultModel: "magistral-medium-latest" } })).status()).toBe(200);
  await page.goto("/", { waitUntil: "domcontentloaded" });
  await hydrated(page);
  const think = page.getByTestId("think-toggle");
  await expect(think).toBeVisible();
  expect(await think.evaluate((el) => el.tagName)).toBe("BUTTON");
  await expect(think).toHaveAttribute("type", "button");
  await expect(think).toHaveAttribute("aria-pressed", "false");
  await think.click();
  await expect(think).toHaveAttribute("aria-pressed", "true");
  await think.click();
  await expect(think).toHaveAttribute("aria-pressed", "false");
});

/** Every visible control smaller than 44×44 px, described. */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>("button, select, input, textarea, summary, a[href]"))) {
      if (!el.checkVisibility({ visibilityProperty: true } as any)) continue;
      // WCAG 2.5.8 exempts links inside running text.
      if (el.tagName === "A" && el.closest(".markdown")) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.width < 43.5 || r.height < 43.5) {
        const name = el.getAttribute("data-testid") || el.getAttribute("aria-label") || el.className || el.textContent?.trim().slice(0, 30);
        out.push(`${el.tagName.toLowerCase()} "${name}" ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
    }
    return out;
  });
}

test("every control is at least 44×44 px on touch screens", async ({ browser }, info) => {
  // A touch screen at this project's size (at desktop size: a touch laptop).
  const context = await browser.newContext({
    baseURL: info.project.use.baseURL,
    viewport: info.project.use.viewport,
    isMobile: info.project.use.isMobile,
    hasTouch: true,
  });
  const page = await context.newPage();
  expect(await page.evaluate(() => matchMedia("(pointer: coarse)").matches), "a touch screen has a coarse pointer").toBe(true);
  await signUp(page, info, "layout-touch");
  expect((await page.request.put("/api/settings", { data: { defaultModel: "magistral-medium-latest" } })).status()).toBe(200);
  const id = await threadWith(page, "Touch", [
    { text: "First answer" },
    { text: `${CODE_MD}\n\n${TABLE_MD}`, thinking: "Let me think about it." },
  ]);
  for (const [url, name] of [["/", "home"], [`/t/${id}`, "thread"]]) {
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await hydrated(page);
    if (name === "thread") await expect(page.locator(".code-copy")).toBeVisible();
    await expect(page.getByTestId("think-toggle")).toBeVisible();
    let small = await smallTargets(page);
    expect(small, `${name}: controls under 44×44 px:\n${small.join("\n")}`).toEqual([]);
    await openSidebar(page);
    await expect(page.getByTestId("thread-item").first()).toBeVisible();
    await page.getByTestId("thread-menu").first().click();
    await expect(page.getByTestId("thread-rename")).toBeVisible();
    small = await smallTargets(page);
    expect(small, `${name} with the sidebar open: controls under 44×44 px:\n${small.join("\n")}`).toEqual([]);
  }
  // Two versions of the last answer: the ‹ › switches show.
  await page.goto(`/t/${id}`, { waitUntil: "domcontentloaded" });
  await hydrated(page);
  const answer = page.locator("[data-testid='message'][data-role='assistant']").last();
  await answer.getByTestId("regenerate").click();
  await expect(answer.getByTestId("version-label")).toHaveText("2/2");
  await expect(answer).toContainText("That is all from the fake Mistral.", { timeout: 15_000 });
  const small = await smallTargets(page);
  expect(small, `versions: controls under 44×44 px:\n${small.join("\n")}`).toEqual([]);
  await shot(page, info, "layout-touch-thread");
  await context.close();
});

test("the thread search box looks like the app's fields, in light and dark", async ({ page }, info) => {
  await signUp(page, info, "layout-search");
  const bright = (rgb: string) => {
    const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) || []).map(Number);
    return (r + g + b) / 3;
  };
  const style = () =>
    page.getByTestId("thread-search").evaluate((el) => {
      const s = getComputedStyle(el);
      return { font: parseFloat(s.fontSize), bg: s.backgroundColor, color: s.color, radius: parseFloat(s.borderTopLeftRadius) };
    });
  // System dark scheme, then the manual dark theme under a light system.
  for (const [scheme, theme] of [["dark", "system"], ["light", "dark"]] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    expect((await page.request.put("/api/settings", { data: { theme } })).status()).toBe(200);
    await page.goto("/", { waitUntil: "domcontentloaded" });
    await hydrated(page);
    await openSidebar(page);
    const s = await style();
    expect(s.font, "16px at least (iOS zooms into smaller text)").toBeGreaterThanOrEqual(16);
    expect(bright(s.bg), `${scheme}/${theme}: background ${s.bg} is dark`).toBeLessThan(80);
    expect(bright(s.color), `${scheme}/${theme}: text ${s.color} is light`).toBeGreaterThan(170);
    expect(s.radius).toBeGreaterThan(4);
    await shot(page, info, `layout-search-${scheme}-${theme}`);
  }
});

test("settings tabs keep their width when the current tab changes", async ({ page }, info) => {
  await signUp(page, info, "layout-tabs");
  const widths = () => page.locator(".tabs .tab").evaluateAll((tabs) => tabs.map((t) => t.getBoundingClientRect().width));
  const seen: number[][] = [];
  for (const tab of ["account", "models", "appearance"]) {
    await page.goto(`/settings/${tab}`, { waitUntil: "domcontentloaded" });
    await hydrated(page);
    await expect(page.locator(`.tab[aria-current='page'][href='/settings/${tab}']`)).toHaveCount(1);
    seen.push(await widths());
  }
  for (const w of seen.slice(1)) {
    w.forEach((x, i) => expect(Math.abs(x - seen[0][i]), `tab ${i}: ${seen.map((s) => s[i]).join(" / ")}`).toBeLessThan(0.5));
  }
});

async function expectPanelCloses(page: Page, info: any, where: string) {
  const open = page.getByTestId("open-fast-config");
  const panel = page.getByTestId("fast-config");
  const backdrop = page.getByTestId("fast-config-backdrop");
  const wide = (page.viewportSize()?.width ?? 0) >= 1024;
  // Esc closes it.
  await open.click();
  await expect(panel).toBeVisible();
  await expect(open).toHaveAttribute("aria-expanded", "true");
  await page.keyboard.press("Escape");
  await expect(panel).toHaveCount(0);
  // On small screens a backdrop covers the chat, and a tap on it closes the panel.
  await open.click();
  await expect(panel).toBeVisible();
  await shot(page, info, `layout-fast-config-${where}`);
  if (wide) {
    await expect(backdrop).toBeHidden();
    await expect(page.getByTestId("composer-input")).toBeVisible();
    await page.getByTestId("fc-close").click();
  } else {
    await expect(backdrop).toBeVisible();
    await backdrop.click({ position: { x: 10, y: 300 } });
  }
  await expect(panel).toHaveCount(0);
  await noHorizontalOverflow(page);
}

test("Model & context: from the new chat, from an empty thread; Esc and backdrop close it", async ({ page }, info) => {
  await signUp(page, info, "layout-config");
  // An empty thread.
  const t = await page.request.post("/api/thread", { data: { action: "create", data: { name: "Empty one" } } });
  await openThread(page, (await t.json()).thread.id);
  await expectPanelCloses(page, info, "empty-thread");

  // The new chat: the context chosen before the first message is the thread's.
  await page.goto("/", { waitUntil: "domcontentloaded" });
  await hydrated(page);
  await expectPanelCloses(page, info, "new-chat");
  await page.getByTestId("open-fast-config").click();
  await page.getByTestId("fc-model").selectOption("mistral-large-latest");
  await page.getByTestId("fc-context").fill("Always answer like a pirate.");
  await page.getByTestId("fc-save").click();
  await expect(page.getByTestId("fast-config")).toContainText("Saved");
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("fast-config")).toHaveCount(0);
  await expect(page.getByTestId("welcome-model")).toHaveText("mistral-large-latest");
  await expect(page.getByTestId("model-picker")).toHaveValue("mistral-large-latest");
  await page.getByTestId("composer-input").fill("Ahoy there");
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  const answer = page.locator("[data-testid='message'][data-role='assistant']").last();
  await expect(answer).toContainText("That is all from the fake Mistral.", { timeout: 15_000 });
  // Named by its first exchange like any new thread.
  await expect(page.locator(".thread-title")).toHaveText(/^You said: Question/, { timeout: 20_000 });
  await page.getByTestId("open-fast-config").click();
  await expect(page.getByTestId("fc-context")).toHaveValue("Always answer like a pirate.");
  await expect(page.getByTestId("fc-model")).toHaveValue("mistral-large-latest");
});

test("the shortcut help opens from the sidebar, without a keyboard", async ({ page }, info) => {
  await signUp(page, info, "layout-help");
  await page.goto("/", { waitUntil: "domcontentloaded" });
  await hydrated(page);
  await openSidebar(page);
  await page.getByTestId("open-shortcuts").click();
  const dialog = page.getByTestId("shortcut-help");
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText("Keyboard shortcuts");
  await expect(page.locator(".app.sidebar-open")).toHaveCount(0);
  await shot(page, info, "layout-shortcut-help");
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(dialog).toHaveCount(0);
});

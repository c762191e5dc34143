// What a new user meets in the first minutes of a chat (issue 11): a reload
// mid-answer shows the answer once, typed text survives a failed send and a
// reload, errors are sentences with 4xx statuses, focus stays on a message
// when switching versions, the view follows new messages only when the
// reader is at the bottom, and the composer shrinks back after a send.
import { test, expect, Page } from "@playwright/test";
import { hydrated, uniqueEmail, shot } from "./helpers";

const PASSWORD = "correct horse battery";
const KEPT = "Can't reach the server — your message is kept, retry";

async function signUp(page: Page, info: any, tag: string, opts: { key?: boolean; model?: string } = {}) {
  const email = uniqueEmail(info, tag);
  expect((await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  if (opts.key !== false) {
    expect((await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-key-0001" } })).status()).toBe(200);
  }
  if (opts.model) {
    expect((await page.request.put("/api/settings", { data: { defaultModel: opts.model } })).status()).toBe(200);
  }
}

const answers = (page: Page) => page.locator("[data-testid='message'][data-role='assistant']");
const lastAnswer = (page: Page) => answers(page).last();
const input = (page: Page) => page.getByTestId("composer-input");

async function send(page: Page, text: string) {
  await input(page).fill(text);
  await input(page).press("Enter");
}

/** The answer's visible text and reasoning, as the reader sees them. */
async function shown(page: Page) {
  const a = lastAnswer(page);
  return {
    text: await a.locator(".message-body").innerText(),
    thinking: (await a.locator(".thoughts-body").count()) ? await a.locator(".thoughts-body").textContent() : "",
  };
}

async function waitDone(page: Page) {
  await expect(lastAnswer(page)).not.toHaveClass(/streaming/, { timeout: 60_000 });
}

test("a reload mid-answer shows the answer once, wherever it happens", async ({ page }, info) => {
  await signUp(page, info, "reload", { model: "magistral-medium-latest" });
  await page.goto("/");
  await hydrated(page);
  const words = Array.from({ length: 12 }, (_, i) => `lead${i}`).join(" ");
  const code = ["```rust", "fn main() {", ...Array.from({ length: 10 }, (_, i) => `    let v${i} = ${i} * 2;`), "}", "```"].join("\n");
  const question = `${words}\n\n${code}\n\nafter the code ${Array.from({ length: 12 }, (_, i) => `tail${i}`).join(" ")}`;
  await send(page, question);
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  const url = page.url();

  // 1. While the model is still thinking.
  await expect(lastAnswer(page).locator(".thoughts-body")).toContainText("lead2", { timeout: 20_000 });
  await page.reload({ waitUntil: "domcontentloaded" });
  await hydrated(page);
  // 2. Inside the code block of the answer.
  await expect(lastAnswer(page).locator(".message-body")).toContainText("let v3", { timeout: 30_000 });
  await page.reload({ waitUntil: "domcontentloaded" });
  await hydrated(page);
  // 3. Near the end.
  await expect(lastAnswer(page).locator(".message-body")).toContainText("tail4", { timeout: 30_000 });
  await page.reload({ waitUntil: "domcontentloaded" });
  await hydrated(page);
  await waitDone(page);
  const live = await shown(page);

  // The stored answer, rendered fresh by the server.
  await page.goto(url);
  await hydrated(page);
  const stored = await shown(page);
  expect(stored.text).toContain("after the code");
  expect(stored.thinking).toContain("lead11");
  expect(live.text).toBe(stored.text);
  expect(live.thinking).toBe(stored.thinking);
  // Once, not twice.
  expect(live.text.split("lead0").length - 1).toBe(1);
  expect((live.thinking || "").split("lead0").length - 1).toBe(1);
});

test("a failed send keeps the typed message and says why", async ({ page }, info) => {
  await signUp(page, info, "keep", { key: false });
  await page.goto("/");
  await hydrated(page);

  // No key: a 400 from the server function, with what to do.
  const refused = page.waitForResponse((r) => r.url().includes("/rpc/send_message"));
  await send(page, "Keep me, please");
  expect((await refused).status()).toBe(400);
  await expect(page.getByTestId("chat-error")).toContainText("Settings");
  await expect(input(page)).toHaveValue("Keep me, please");

  // With a key, offline: the sentence says the text is kept.
  expect((await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-key-0001" } })).status()).toBe(200);
  await page.context().setOffline(true);
  await input(page).press("Enter");
  await expect(page.getByTestId("chat-error")).toHaveText(KEPT);
  await expect(input(page)).toHaveValue("Keep me, please");
  await page.context().setOffline(false);

  // A broken server (a proxy's error page): a sentence, never a library's text.
  await page.route("**/rpc/send_message", (r) =>
    r.fulfill({ status: 502, contentType: "text/html", body: "<html><body>Bad Gateway</body></html>" }),
  );
  await input(page).press("Enter");
  await expect(page.getByTestId("chat-error")).toBeVisible();
  const said = await page.getByTestId("chat-error").innerText();
  expect(said).not.toMatch(/server function|TypeError|Failed to fetch|<html/i);
  await expect(input(page)).toHaveValue("Keep me, please");
  await page.unroute("**/rpc/send_message");
  // No toast covers it.
  await expect(page.getByTestId("toast")).toHaveCount(0);

  // Retry works, and only then is the box emptied.
  await input(page).press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  await expect(input(page)).toHaveValue("");
  await expect(page.getByTestId("chat-error")).toHaveCount(0);
});

test("a draft per thread survives a reload", async ({ page }, info) => {
  await signUp(page, info, "draft");
  await page.goto("/");
  await hydrated(page);
  await input(page).fill("A draft for a new chat");
  await page.reload();
  await hydrated(page);
  await expect(input(page)).toHaveValue("A draft for a new chat");

  await send(page, "Start a thread");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  const thread = page.url();
  await waitDone(page);
  await input(page).fill("Half-written follow-up\nsecond line");
  await page.reload();
  await hydrated(page);
  await expect(input(page)).toHaveValue("Half-written follow-up\nsecond line");
  // Another thread has its own (empty) draft; the first one is still there.
  await page.goto("/");
  await hydrated(page);
  await expect(input(page)).toHaveValue("");
  await page.goto(thread);
  await hydrated(page);
  await expect(input(page)).toHaveValue("Half-written follow-up\nsecond line");
});

test("the composer shrinks back to one line after a multi-line send", async ({ page }, info) => {
  await signUp(page, info, "shrink");
  await page.goto("/");
  await hydrated(page);
  await send(page, "Hi");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  await waitDone(page);
  const oneLine = (await input(page).boundingBox())!.height;
  await input(page).click();
  await page.keyboard.type("first");
  for (let i = 2; i <= 8; i++) {
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type(`line ${i}`);
  }
  expect((await input(page).boundingBox())!.height).toBeGreaterThan(oneLine * 2);
  await page.keyboard.press("Enter");
  await expect(input(page)).toHaveValue("");
  await expect.poll(async () => (await input(page).boundingBox())!.height).toBeLessThanOrEqual(oneLine + 2);
  await waitDone(page);
  await shot(page, info, "composer-after-multiline-send");
});

test("focus stays on the message when switching versions with arrows", async ({ page }, info) => {
  await signUp(page, info, "focus");
  await page.goto("/");
  await hydrated(page);
  await send(page, "Versions please");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  await waitDone(page);
  await lastAnswer(page).getByTestId("regenerate").click();
  await expect(lastAnswer(page).getByTestId("version-label")).toHaveText("2/2");
  await waitDone(page);

  await lastAnswer(page).focus();
  await page.keyboard.press("ArrowLeft");
  await expect(lastAnswer(page).getByTestId("version-label")).toHaveText("1/2");
  const focusedIsAnswer = () =>
    page.evaluate(() => !!document.activeElement?.closest("[data-testid='message'][data-role='assistant']"));
  await expect.poll(focusedIsAnswer).toBe(true);
  // The next arrow acts on the same message.
  await page.keyboard.press("ArrowRight");
  await expect(lastAnswer(page).getByTestId("version-label")).toHaveText("2/2");
  await expect.poll(focusedIsAnswer).toBe(true);
  await page.keyboard.press("ArrowLeft");
  await expect(lastAnswer(page).getByTestId("version-label")).toHaveText("1/2");
});

test("a new question scrolls into view; the view follows only a reader at the bottom", async ({ page }, info) => {
  await signUp(page, info, "scroll");
  await page.goto("/");
  await hydrated(page);
  // A thread taller than the screen.
  const tall = Array.from({ length: 14 }, (_, i) => `Line ${i} of a tall question`).join("\n\n");
  await send(page, tall);
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  await waitDone(page);
  await send(page, tall);
  await waitDone(page);
  const view = page.getByTestId("thread-view");
  expect(await view.evaluate((el) => el.scrollHeight > el.clientHeight * 1.5)).toBe(true);

  // Scrolled up, a new question still lands in view (above the composer).
  await view.evaluate((el) => (el.scrollTop = 0));
  await expect(page.getByTestId("jump-latest")).toBeVisible();
  const marker = "Freshly asked question";
  await send(page, `${marker} ${Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ")}`);
  const question = page.locator("[data-testid='message'][data-role='user']").last();
  await expect(question).toContainText(marker);
  await expect(question).toBeInViewport();
  const composerTop = (await page.getByTestId("composer").boundingBox())!.y;
  await expect.poll(async () => (await question.boundingBox())!.y).toBeLessThan(composerTop);
  await expect(page.getByTestId("jump-latest")).toHaveCount(0);

  // At the bottom, the streaming answer is followed.
  await expect(lastAnswer(page)).toContainText("w10");
  const atEnd = () => view.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 60);
  await expect.poll(atEnd).toBe(true);

  // Scrolled up while it streams: the view stays put and offers a way back.
  await view.evaluate((el) => (el.scrollTop = 0));
  await expect(page.getByTestId("jump-latest")).toBeVisible();
  await expect(lastAnswer(page)).toContainText("w25");
  expect(await view.evaluate((el) => el.scrollTop)).toBeLessThan(50);
  await page.getByTestId("jump-latest").click();
  await expect.poll(atEnd).toBe(true);
  await waitDone(page);
  await expect.poll(atEnd).toBe(true);
});

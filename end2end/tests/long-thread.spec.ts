// A thread of 5,000 messages (issue 13): the newest page is interactive
// within budgets.json `longThread.newestPageMs`, and scrolling back through
// 1,000 messages keeps at most `longThread.maxMountedMessages` on the page
// (far-away messages are unmounted), then scrolling down again comes back
// to the newest. The thread is uploaded through the JSON API's `sync`
// action (1,000 messages per call), as a client that wrote offline would.
import { test, expect, Page, APIRequestContext } from "@playwright/test";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hydrated, signUpWithKey } from "./helpers";

const budgets = JSON.parse(readFileSync(`${__dirname}/../../budgets.json`, "utf8"));
const NEWEST_PAGE_MS: number = budgets.longThread.newestPageMs;
const MAX_MOUNTED: number = budgets.longThread.maxMountedMessages;
const MESSAGES = 5_000;

/** A markdown answer of a few blocks, like a real one. */
function answer(i: number) {
  return [
    `Answer **${i}**: here is what you asked about, with \`code\` and a list.`,
    "",
    `- point one of ${i}`,
    `- point two of ${i}`,
    "",
    "```rust",
    `fn answer_${i}() -> u32 { ${i} }`,
    "```",
  ].join("\n");
}

async function uploadThread(request: APIRequestContext, n: number): Promise<string> {
  const created = await request.post("/api/thread", { data: { action: "create", data: { name: "Five thousand" } } });
  expect(created.status()).toBe(201);
  const threadId: string = (await created.json()).thread.id;
  let parent: string | null = null;
  const t0 = Date.UTC(2026, 0, 1);
  for (let start = 0; start < n; start += 1000) {
    const messages = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) {
      const id = randomUUID();
      messages.push({
        idMessage: id,
        idThread: threadId,
        role: i % 2 === 0 ? "user" : "assistant",
        text: i % 2 === 0 ? `Question number ${i}?` : answer(i),
        parentId: parent,
        date: t0 + i * 1000,
      });
      parent = id;
    }
    const synced = await request.post("/api/thread", { data: { action: "sync", messages } });
    expect(synced.status()).toBe(200);
    const body = await synced.json();
    expect(body.rejected).toEqual([]);
    expect(body.inserted).toBe(messages.length);
  }
  return threadId;
}

const mounted = (page: Page) => page.locator("[data-testid='message']").count();

test("a 5,000-message thread opens fast and keeps the page bounded while scrolling back", async ({ page }, info) => {
  test.setTimeout(300_000);
  await signUpWithKey(page, "long", info);
  const threadId = await uploadThread(page.request, MESSAGES);

  // Warm the server's caches (not the browser's: a fresh page loads it).
  await page.goto("/");
  await hydrated(page);
  const started = Date.now();
  await page.goto(`/t/${threadId}`);
  await hydrated(page);
  const composer = page.getByTestId("composer-input");
  await expect(composer).toBeEditable();
  const interactiveMs = Date.now() - started;
  await expect(page.locator("[data-testid='message']").last()).toContainText(`Answer ${MESSAGES - 1}`);
  console.log(`[${info.project.name}] 5,000-message thread: newest page interactive in ${interactiveMs} ms (budget ${NEWEST_PAGE_MS} ms); ${await mounted(page)} messages mounted`);
  expect(interactiveMs, "newest page interactive (ms)").toBeLessThanOrEqual(NEWEST_PAGE_MS);

  // Scroll back until 1,000 messages have gone by.
  const view = page.getByTestId("thread-view");
  const oldestShown = async () =>
    Number(((await page.locator("[data-testid='message']").first().innerText()).match(/(\d+)/) || ["", "NaN"])[1]);
  let maxMounted = 0;
  const heap: number[] = [];
  for (let step = 0; step < 200; step++) {
    await view.evaluate((el) => el.scrollTo({ top: 0 }));
    await page.waitForTimeout(150);
    maxMounted = Math.max(maxMounted, await mounted(page));
    if (step % 10 === 0) heap.push(await page.evaluate(() => (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize));
    if ((await oldestShown()) <= MESSAGES - 1_000) break;
  }
  const oldest = await oldestShown();
  console.log(`[${info.project.name}] scrolled back to message ${oldest}; at most ${maxMounted} messages mounted (budget ${MAX_MOUNTED}); JS heap ${heap.map((h) => (h / 1e6).toFixed(1)).join(" → ")} MB`);
  expect(oldest, "scrolled back through 1,000 messages").toBeLessThanOrEqual(MESSAGES - 1_000);
  expect(maxMounted, "messages mounted at once").toBeLessThanOrEqual(MAX_MOUNTED);
  // What the reader looks at stays in view while the window moves: the
  // oldest mounted message is the one at the top, not one far below.
  await expect(page.getByTestId("jump-latest")).toBeVisible();

  // And back down: the newest message returns, the window follows it again.
  await page.getByTestId("jump-latest").click();
  await expect(page.locator("[data-testid='message']").last()).toContainText(`Answer ${MESSAGES - 1}`);
  expect(await mounted(page)).toBeLessThanOrEqual(MAX_MOUNTED);
  // Scrolling down step by step from an old window also reaches the newest.
  await page.reload();
  await hydrated(page);
  for (let i = 0; i < 8; i++) {
    await view.evaluate((el) => el.scrollTo({ top: 0 }));
    await page.waitForTimeout(150);
  }
  for (let step = 0; step < 100; step++) {
    await view.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await page.waitForTimeout(100);
    if ((await page.getByTestId("jump-latest").count()) === 0) break;
  }
  await expect(page.locator("[data-testid='message']").last()).toContainText(`Answer ${MESSAGES - 1}`);
  await expect(page.getByTestId("jump-latest")).toHaveCount(0);
});

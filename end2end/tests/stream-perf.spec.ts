// Streaming a long answer keeps the tab responsive (issue 11): finished
// blocks are rendered once, only the unfinished tail is re-rendered, at most
// once per frame. The fake Mistral streams a generated markdown answer
// (headings, paragraphs, lists, code, tables, math) at 500 words/s when the
// question holds `[[fake:long words=N tps=R]]`.
//
// Correctness (the streamed DOM is exactly the server's rendering of the
// stored answer; a selection in a finished block survives) runs at every
// size. The timing limits run at desktop only: they check the renderer's
// cost, which does not depend on the viewport, and each extra timed run on
// the shared 2-core machine is one more chance for noise to fail the suite.
import { test, expect, Page } from "@playwright/test";
import { hydrated, signUpWithKey } from "./helpers";
import { installStreamProbe, readStreamProbe, perThousandWords, lastAnswerBody } from "./stream-probe";

const WORDS = 3_000;
/** CI's budget for the longest task while streaming (target: 50 ms, see below). */
const LONG_TASK_BUDGET_MS = 100;
const TPS = 500;

async function askForLongAnswer(page: Page, words: number, tps: number) {
  await page.getByTestId("composer-input").fill(`Write a long answer [[fake:long words=${words} tps=${tps}]]`);
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
}

test("a long streamed answer stays responsive and renders exactly the stored text", async ({ page }, info) => {
  await signUpWithKey(page, "perf", info);
  await installStreamProbe(page);
  await page.goto("/");
  await hydrated(page);

  await askForLongAnswer(page, WORDS, TPS);
  const body = lastAnswerBody(page);
  await expect(body).toContainText("End of the long answer.", { timeout: 60_000 });
  await expect(page.getByTestId("send")).toBeVisible();

  const probe = await readStreamProbe(page);
  const windows = perThousandWords(probe);
  console.log(`[${info.project.name}] words streamed: ${probe.words}; longest task: ${probe.longest.toFixed(0)} ms; per 1,000 words: ${windows.map((w) => `${w.busyMs.toFixed(0)} ms busy / ${w.fps.toFixed(0)} fps`).join(", ")}`);
  expect(probe.words).toBeGreaterThanOrEqual(WORDS);
  expect(windows.length).toBeGreaterThanOrEqual(3);

  if (info.project.name === "desktop") {
    // No task while the answer streams blocks the page for long. The target
    // is 50 ms (the benchmark, `bench/stream-render.ts`, prints the longest
    // task against it); 50 ms is also the threshold at which Chromium reports
    // a long task at all, so on the shared 2-core CI machine a single noisy
    // frame lands right on it. The test enforces LONG_TASK_BUDGET_MS, which
    // the old renderer (0.45 s to 35 s) fails by an order of magnitude.
    expect(probe.longTasks.filter((t) => t.duration > LONG_TASK_BUDGET_MS), "long tasks while streaming").toEqual([]);
    // The cost per 1,000 words stays flat: the last window may cost at most
    // 3× the first (plus 100 ms for scheduling noise); re-rendering the whole
    // answer per delta grows it ~linearly, to seconds.
    const first = windows[0].busyMs;
    const last = windows[windows.length - 1].busyMs;
    expect(last, `busy ms per 1,000 words: ${windows.map((w) => w.busyMs.toFixed(0))}`).toBeLessThanOrEqual(3 * first + 100);
    // The page kept drawing frames while it streamed.
    for (const w of windows) expect(w.fps).toBeGreaterThanOrEqual(20);
  }

  // The streamed DOM is the server's rendering of the stored answer.
  const streamedHtml = await body.innerHTML();
  const threadId = new URL(page.url()).pathname.split("/").pop();
  const thread = await (await page.request.get(`/api/thread?idThread=${threadId}`)).json();
  const stored = thread.messages.filter((m: { role: string }) => m.role === "assistant").pop();
  expect(stored.status).toBe("done");
  expect(stored.text.endsWith("End of the long answer.")).toBe(true);
  expect(stored.text.split(/\s+/).length).toBeGreaterThanOrEqual(WORDS);
  await page.reload();
  await hydrated(page);
  await expect(lastAnswerBody(page)).toContainText("End of the long answer.");
  expect(await lastAnswerBody(page).innerHTML()).toBe(streamedHtml);
  for (const construct of ["h2", "ul > li", "pre code.language-rust", "table td", "math"]) {
    await expect(body.locator(construct).first()).toBeVisible();
  }
});

test("a selection in a finished block survives while the answer streams", async ({ page }, info) => {
  await signUpWithKey(page, "select", info);
  await page.goto("/");
  await hydrated(page);
  await askForLongAnswer(page, 1_500, 200);
  const body = lastAnswerBody(page);
  const first = body.locator("p").first();
  // The first paragraph is finished once the list after it has begun.
  await expect(body.locator("ul").first()).toBeVisible({ timeout: 20_000 });
  const selected = await first.evaluate((p) => {
    (p as unknown as { __marked: boolean }).__marked = true;
    const range = document.createRange();
    range.selectNodeContents(p);
    const sel = window.getSelection()!;
    sel.removeAllRanges();
    sel.addRange(range);
    return sel.toString();
  });
  expect(selected.length).toBeGreaterThan(20);
  // Two more sections arrive while the answer is still streaming.
  const sections = await body.locator("h2").count();
  await expect.poll(() => body.locator("h2").count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(sections + 2);
  await expect(page.getByTestId("stop")).toBeVisible();
  const after = await page.evaluate(() => window.getSelection()!.toString());
  expect(after).toBe(selected);
  // The same element: it was not re-created.
  expect(await first.evaluate((p) => (p as unknown as { __marked?: boolean }).__marked === true)).toBe(true);
});

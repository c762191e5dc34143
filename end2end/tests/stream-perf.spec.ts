// Streaming a long answer keeps the tab responsive (issues 11 and 13): the
// server renders the answer (finished blocks once, the unfinished tail again
// at most every 50 ms) and the page appends finished blocks (in parts that
// the browser lays out and paints once) and replaces the tail, at most once
// per frame. The fake Mistral streams a generated
// markdown answer (headings, paragraphs, lists, code, tables, math) one
// token per event when the question holds `[[fake:long words=N tps=R]]`.
//
// Everything runs at every size: correctness (the streamed DOM is exactly
// the server's rendering of the stored answer; a selection in a finished
// block survives) and the budgets in budgets.json (no task over
// `streaming.longTaskMs`, script time per 1,000 tokens flat; the longest task
// and the count of tasks over the issue's 50 ms are printed). The stream is the issue's at desktop,
// 20,000 tokens at 200 tokens/s, and 3,000 tokens at 500/s at phone and
// tablet (the cost per token does not depend on the viewport).
import { test, expect, Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { hydrated, signUpWithKey } from "./helpers";
import { installStreamProbe, readStreamProbe, perThousandWords, lastAnswerBody, sampleScripting, scriptingPerThousand, waitForStreamEnd, blocksHtml } from "./stream-probe";

const budgets = JSON.parse(readFileSync(`${__dirname}/../../budgets.json`, "utf8"));
/** budgets.json: the longest main-thread task allowed while an answer streams. */
const LONG_TASK_MS: number = budgets.streaming.longTaskMs;
const GROWTH_FACTOR: number = budgets.streaming.growthFactor;
const GROWTH_SLACK_MS: number = budgets.streaming.growthSlackMs;

// Playwright's trace (`retain-on-failure` in the config) snapshots the whole
// DOM at each step, and an assertion that polls the answer's text re-reads
// every word of it: at ~16,000 tokens the two together left the page at 8
// frames a second with a 966 ms task, against 60 frames a second and no long
// task with neither (measured in the same browser, same stream). They measure
// Playwright, not the page; so this file runs without the trace, and the timed
// test waits for the answer's `done` event (waitForStreamEnd) and reads the
// answer once, after.
test.use({ trace: "off" });

/** The issue's stream at desktop (20,000 tokens at 200/s); a shorter one at the other sizes. */
function streamFor(project: string) {
  return project === "desktop" ? { words: 20_000, tps: 200 } : { words: 3_000, tps: 500 };
}

async function askForLongAnswer(page: Page, words: number, tps: number) {
  await page.getByTestId("composer-input").fill(`Write a long answer [[fake:long words=${words} tps=${tps}]]`);
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
}

test("a long streamed answer stays responsive and renders exactly the stored text", async ({ page }, info) => {
  const { words: WORDS, tps: TPS } = streamFor(info.project.name);
  test.setTimeout(60_000 + (WORDS / TPS) * 2_000);
  await signUpWithKey(page, "perf", info);
  await installStreamProbe(page);
  await page.goto("/");
  await hydrated(page);

  const scripting = sampleScripting(page);
  await askForLongAnswer(page, WORDS, TPS);
  const body = lastAnswerBody(page);
  await waitForStreamEnd(page, 1, (WORDS / TPS) * 1_500 + 30_000);
  const samples = await scripting.stop();
  await expect(page.getByTestId("send")).toBeVisible();
  await expect(body).toContainText("End of the long answer.");

  const probe = await readStreamProbe(page);
  const windows = perThousandWords(probe);
  const perK = scriptingPerThousand(probe, samples);
  console.log(
    `[${info.project.name}] tokens streamed: ${probe.words} in ${probe.seconds.toFixed(1)} s; longest task: ${probe.longest.toFixed(0)} ms ` +
      `(${probe.longTasks.length} long tasks); scripting per 1,000 tokens: first ${perK[0]?.toFixed(0)} ms, last ${perK[perK.length - 1]?.toFixed(0)} ms ` +
      `(all: ${perK.map((m) => m.toFixed(0)).join(", ")}); busy per 1,000 tokens: ${windows.map((w) => `${w.busyMs.toFixed(0)} ms / ${w.fps.toFixed(0)} fps`).join(", ")}`,
  );
  expect(probe.words).toBeGreaterThanOrEqual(WORDS);
  expect(windows.length).toBeGreaterThanOrEqual(3);

  // No task while the answer streams blocks the page for long (budgets.json),
  // at every size.
  expect(probe.longTasks.filter((t) => t.duration > LONG_TASK_MS), "long tasks while streaming").toEqual([]);
  // The scripting time per 1,000 tokens stays flat: the last window costs at
  // most GROWTH_FACTOR × the first (+ slack for scheduling noise).
  expect(perK.length).toBeGreaterThanOrEqual(info.project.name === "desktop" ? 10 : 2);
  const first = perK[0];
  const last = perK[perK.length - 1];
  expect(last, `scripting ms per 1,000 tokens: ${perK.map((m) => m.toFixed(0))}`).toBeLessThanOrEqual(GROWTH_FACTOR * first + GROWTH_SLACK_MS);
  // Frames per second are printed above, not enforced (a frame rate depends
  // on the machine more than on the page).

  // The finished blocks were kept in parts (a frame lays out and paints
  // the new blocks, not the whole answer): ~16 blocks each.
  const parts = await body.locator(":scope > .md-part").count();
  expect(parts, "parts of finished blocks").toBeGreaterThanOrEqual(Math.floor(WORDS / 1_000));
  // The streamed DOM is the server's rendering of the stored answer (the
  // same blocks; a stored message has no parts).
  const streamedHtml = await blocksHtml(body);
  const streamedHeight = await body.evaluate((el) => el.getBoundingClientRect().height);
  const threadId = new URL(page.url()).pathname.split("/").pop();
  const thread = await (await page.request.get(`/api/thread?idThread=${threadId}`)).json();
  const stored = thread.messages.filter((m: { role: string }) => m.role === "assistant").pop();
  expect(stored.status).toBe("done");
  expect(stored.text.endsWith("End of the long answer.")).toBe(true);
  expect(stored.text.split(/\s+/).length).toBeGreaterThanOrEqual(WORDS);
  await page.reload();
  await hydrated(page);
  await expect(lastAnswerBody(page)).toContainText("End of the long answer.");
  expect(await lastAnswerBody(page).locator(".md-part").count()).toBe(0);
  expect(await lastAnswerBody(page).innerHTML()).toBe(streamedHtml);
  // And it looks the same: the parts space the blocks as the stored page does.
  const storedHeight = await lastAnswerBody(page).evaluate((el) => el.getBoundingClientRect().height);
  expect(Math.abs(storedHeight - streamedHeight), `answer height streamed ${streamedHeight}, stored ${storedHeight}`).toBeLessThanOrEqual(1);
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

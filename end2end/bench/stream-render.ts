// Streams answers of ~430 / ~1,700 / ~3,400 / ~10,000 words at 500 words/s
// from the fake Mistral and prints, per size: longest task, total long-task
// time, frames per second, and main-thread time lost per 1,000 words (first
// and last window). Run with bench/playwright.config.ts (see there).
import { test, expect } from "@playwright/test";
import { hydrated, signUpWithKey } from "../tests/helpers";
import { installStreamProbe, readStreamProbe, perThousandWords, lastAnswerBody, waitForStreamEnd } from "../tests/stream-probe";

const SIZES = (process.env.BENCH_WORDS || "430,1700,3400,10000").split(",").map(Number);
const TPS = Number(process.env.BENCH_TPS || 500);

test("streaming render cost by answer length", async ({ page }, info) => {
  await signUpWithKey(page, "bench", info);
  await installStreamProbe(page);
  const rows: string[] = [];
  for (const words of SIZES) {
    await page.goto("/");
    await hydrated(page);
    await page.getByTestId("composer-input").fill(`Bench [[fake:long words=${words} tps=${TPS}]]`);
    await page.getByTestId("composer-input").press("Enter");
    // page.goto gives each answer a fresh document, hence a fresh probe.
    await waitForStreamEnd(page, 1, 580_000);
    await expect(page.getByTestId("send")).toBeVisible();
    await expect(lastAnswerBody(page)).toContainText("End of the long answer.");
    const p = await readStreamProbe(page);
    const windows = perThousandWords(p);
    const fps = (p.frames.filter((t) => t >= p.marks[0][0] && t <= p.marks[p.marks.length - 1][0]).length / Math.max(p.seconds, 0.001));
    const per1k = windows.length
      ? `${windows[0].busyMs.toFixed(0)} → ${windows[windows.length - 1].busyMs.toFixed(0)} ms`
      : "n/a (< 1,000 words)";
    rows.push(
      `| ${p.words} | ${p.seconds.toFixed(1)} s | ${(p.longest / 1000).toFixed(3)} s | ${(p.longTotal / 1000).toFixed(2)} s | ${p.longTasks.length} | ${fps.toFixed(0)} | ${per1k} |`,
    );
  }
  const table = [
    "| words | streamed in | longest task | long tasks total | long tasks | fps | busy per 1,000 words (first → last) |",
    "|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
  console.log(`\nStreaming render at ${TPS} words/s, ${info.project.name}:\n${table}\n`);
});

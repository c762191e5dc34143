// Measures a page while an answer streams (used by stream-perf.spec.ts and
// bench/stream-render.ts): long tasks (PerformanceObserver), every animation
// frame's time, and how many words had arrived when (each `delta` event of
// the answer's EventSource is counted before the page handles it).
import { Page, Locator } from "@playwright/test";

interface RawProbe {
  longTasks: { start: number; duration: number }[];
  frames: number[];
  /** [time, words so far] at each delta that carried words. */
  words: [number, number][];
  /** `done` events seen (one per finished answer). */
  done: number;
}

export interface StreamProbe {
  words: number;
  /** Seconds from the first to the last word. */
  seconds: number;
  /** Long tasks from the first word to 0.5 s after the last. */
  longTasks: { start: number; duration: number }[];
  longest: number;
  longTotal: number;
  frames: number[];
  marks: [number, number][];
}

export interface WordWindow {
  fromWord: number;
  ms: number;
  /** Main-thread time the frames lost: Σ (gap between frames − 1/60 s). */
  busyMs: number;
  fps: number;
}

/** Installs the probe in every document the page loads. */
export async function installStreamProbe(page: Page) {
  await page.addInitScript(() => {
    const probe: RawProbe = { longTasks: [], frames: [], words: [], done: 0 };
    (window as unknown as { __streamProbe: RawProbe }).__streamProbe = probe;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) probe.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: "longtask", buffered: true });
    const frame = (t: number) => {
      probe.frames.push(t);
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    let count = 0;
    const add = EventSource.prototype.addEventListener;
    EventSource.prototype.addEventListener = function (
      this: EventSource,
      type: string,
      listener: EventListenerOrEventListenerObject | null,
      options?: boolean | AddEventListenerOptions,
    ) {
      // A first connection gets what was written before it as one
      // `snapshot` (replacing), then `delta`s (appending).
      if (type === "done" && typeof listener === "function") {
        const inner = listener;
        listener = function (this: EventSource, ev: Event) {
          probe.done++;
          return inner.call(this, ev);
        };
      } else if ((type === "delta" || type === "snapshot") && typeof listener === "function") {
        const inner = listener;
        listener = function (this: EventSource, ev: Event) {
          const text: string = JSON.parse((ev as MessageEvent).data).text || "";
          const n = (text.match(/\S+/g) || []).length;
          if (type === "snapshot" ? n !== count : n > 0) {
            count = type === "snapshot" ? n : count + n;
            probe.words.push([performance.now(), count]);
          }
          return inner.call(this, ev);
        };
      }
      return add.call(this, type, listener, options);
    } as typeof EventSource.prototype.addEventListener;
  });
}

/**
 * Waits until the page has received `count` `done` events, checking once a
 * second. Not a locator: Playwright polls a locator assertion frame by frame,
 * and each poll searches the whole DOM (at ~16,000 tokens, waiting for the
 * Send button that way cut the page from 60 to 38 frames a second).
 */
export async function waitForStreamEnd(page: Page, count: number, timeout: number) {
  await page.waitForFunction(
    (n) => (window as unknown as { __streamProbe: RawProbe }).__streamProbe.done >= n,
    count,
    { polling: 1000, timeout },
  );
}

/** What the probe saw, limited to the time the answer streamed. */
export async function readStreamProbe(page: Page): Promise<StreamProbe> {
  const raw = await page.evaluate(() => (window as unknown as { __streamProbe: RawProbe }).__streamProbe);
  const marks = raw.words;
  const t0 = marks.length ? marks[0][0] : 0;
  const t1 = marks.length ? marks[marks.length - 1][0] : 0;
  // Tasks that began while the answer streamed (the page's own setup before
  // the first word, e.g. opening the new thread, is not the renderer's cost).
  const longTasks = raw.longTasks.filter((t) => t.start >= t0 && t.start <= t1 + 500);
  return {
    words: marks.length ? marks[marks.length - 1][1] : 0,
    seconds: (t1 - t0) / 1000,
    longTasks,
    longest: Math.max(0, ...longTasks.map((t) => t.duration)),
    longTotal: longTasks.reduce((s, t) => s + t.duration, 0),
    frames: raw.frames,
    marks,
  };
}

/** Cost per window of 1,000 words (the last, partial window is left out). */
export function perThousandWords(probe: StreamProbe, size = 1000): WordWindow[] {
  const timeAt = (word: number) => probe.marks.find(([, n]) => n >= word)?.[0];
  const out: WordWindow[] = [];
  for (let from = 0; from + size <= probe.words; from += size) {
    const start = from === 0 ? probe.marks[0][0] : timeAt(from)!;
    const end = timeAt(from + size)!;
    let busy = 0;
    let frames = 0;
    for (let i = 1; i < probe.frames.length; i++) {
      const t = probe.frames[i];
      if (t <= start || t > end) continue;
      frames++;
      busy += Math.max(0, t - probe.frames[i - 1] - 1000 / 60);
    }
    out.push({ fromWord: from, ms: end - start, busyMs: busy, fps: (frames * 1000) / Math.max(1, end - start) });
  }
  return out;
}

/** The body of the last answer on the page. */
export function lastAnswerBody(page: Page): Locator {
  return page.locator("[data-testid='message'][data-role='assistant']").last().locator(".message-body");
}

/**
 * A message body's HTML with the parts a streaming answer keeps its finished
 * blocks in (`.md-part`, stream_body.rs) unwrapped: the blocks as a stored
 * message shows them.
 */
export async function blocksHtml(body: Locator): Promise<string> {
  return body.evaluate((el) => {
    const copy = el.cloneNode(true) as HTMLElement;
    for (const part of Array.from(copy.querySelectorAll(".md-part"))) part.replaceWith(...Array.from(part.childNodes));
    return copy.innerHTML;
  });
}

/** Chromium's cumulative main-thread script time (ms), sampled against the page's clock. */
export interface ScriptingSample {
  /** `performance.now()` in the page. */
  at: number;
  scriptMs: number;
}

/**
 * Samples `Performance.getMetrics` (ScriptDuration: time spent running
 * script, the page's and the WASM's) four times a second until `stop()`.
 */
export function sampleScripting(page: Page) {
  const samples: ScriptingSample[] = [];
  let running = true;
  const done = (async () => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    while (running) {
      try {
        const at = await page.evaluate(() => performance.now());
        const { metrics } = await cdp.send("Performance.getMetrics");
        const script = metrics.find((m: { name: string }) => m.name === "ScriptDuration");
        if (script) samples.push({ at, scriptMs: script.value * 1000 });
      } catch {
        // A navigation in progress: the next sample will do.
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await cdp.detach().catch(() => {});
  })();
  return {
    async stop(): Promise<ScriptingSample[]> {
      running = false;
      await done;
      return samples;
    },
  };
}

/** Script time (ms) spent while each full window of `size` tokens arrived. */
export function scriptingPerThousand(probe: StreamProbe, samples: ScriptingSample[], size = 1000): number[] {
  const timeAt = (word: number) => probe.marks.find(([, n]) => n >= word)?.[0];
  // Cumulative script time at page time t, interpolated between samples.
  const scriptAt = (t: number) => {
    const i = samples.findIndex((s) => s.at >= t);
    if (i <= 0) return samples[Math.max(0, i)]?.scriptMs ?? 0;
    const [a, b] = [samples[i - 1], samples[i]];
    return a.scriptMs + ((b.scriptMs - a.scriptMs) * (t - a.at)) / Math.max(1e-6, b.at - a.at);
  };
  const out: number[] = [];
  for (let from = 0; from + size <= probe.words; from += size) {
    const start = from === 0 ? probe.marks[0][0] : timeAt(from)!;
    const end = timeAt(from + size)!;
    if (samples.length === 0 || end > samples[samples.length - 1].at) break;
    out.push(scriptAt(end) - scriptAt(start));
  }
  return out;
}

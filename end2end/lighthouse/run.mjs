// Lighthouse against a running MistralChat (started by scripts/lighthouse.sh
// on a fresh database with the fake Mistral):
//
//   node end2end/lighthouse/run.mjs --base http://127.0.0.1:3200 [--budgets budgets.json] [--out DIR]
//
// Registers a user through the JSON API, saves a Mistral key (the fake's), and
// writes a thread of 200 messages through the real send path (`POST /api/chat`,
// each answer followed on its event stream until `done`); the fake answers
// with a section of markdown (heading, paragraphs, list, code block, table,
// math). Then runs the Lighthouse CLI (mobile preset, the default form
// factor) on the signed-in empty chat `/` and on `/t/<thread id>`, with the
// session cookie passed as an extra header, prints each page's category
// scores, LCP / TBT / CLS and the audits that fail, and exits 1 when a
// category scores below its minimum in budgets.json `lighthouse`. Each page
// is audited LIGHTHOUSE_RUNS times (default 3) and judged on the run with
// the median performance score (see medianRun).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const QUESTIONS = 100; // question/answer pairs: 200 messages
const CATEGORIES = [
  ["performance", "performance"],
  ["accessibility", "accessibility"],
  ["best-practices", "bestPractices"],
];
const CHROME_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function args() {
  const a = { base: null, budgets: resolve(HERE, "../../budgets.json"), out: resolve(HERE, "reports") };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === "--base") a.base = v;
    else if (argv[i] === "--budgets") a.budgets = v;
    else if (argv[i] === "--out") a.out = v;
    else fail(`unknown argument ${argv[i]}`);
    i++;
  }
  if (!a.base) fail("usage: run.mjs --base http://127.0.0.1:PORT [--budgets budgets.json] [--out DIR]");
  a.base = a.base.replace(/\/$/, "");
  return a;
}

function fail(message) {
  console.error(`lighthouse: ${message}`);
  process.exit(2);
}

/** The minimum scores (0-100) from budgets.json `lighthouse`. */
function thresholds(path) {
  let budgets;
  try {
    budgets = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    fail(`cannot read ${path}: ${e.message}`);
  }
  const lh = budgets.lighthouse;
  if (!lh) fail(`${path} has no "lighthouse" object`);
  for (const [, key] of CATEGORIES) {
    if (typeof lh[key] !== "number") fail(`${path} lighthouse.${key} is not a number`);
  }
  return lh;
}

/** JSON request against the app; throws with the status and body on anything but `expect`. */
async function api(base, method, path, { body, cookie, expect = 200 } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (cookie) headers.cookie = cookie;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status !== expect) {
    throw new Error(`${method} ${path}: HTTP ${res.status} (expected ${expect}): ${(await res.text()).slice(0, 300)}`);
  }
  return res;
}

/** Registers a fresh user and returns its session cookie (`name=value`). */
async function signUp(base) {
  const email = `lighthouse-${Date.now()}@example.com`;
  const res = await api(base, "POST", "/api/auth/email/register", {
    body: { email, password: "correct horse battery" },
    expect: 201,
  });
  const cookies = res.headers.getSetCookie().map((c) => c.split(";")[0]);
  if (!cookies.length) throw new Error("register: no Set-Cookie in the response");
  const cookie = cookies.join("; ");
  await api(base, "PUT", "/api/settings/key", { body: { apiKey: "sk-lighthouse-key-0001" }, cookie });
  return cookie;
}

/** Reads the answer's event stream until `done` (or fails on `error`). */
async function waitForAnswer(base, cookie, id) {
  const res = await api(base, "GET", `/api/generations/${id}/events`, { cookie });
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of res.body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = /^event: ?(.*)$/m.exec(block)?.[1];
      if (event !== "done") continue;
      // `done` carries how the answer ended: anything but `done` is a failed seed.
      const data = JSON.parse(/^data: ?(.*)$/m.exec(block)?.[1] ?? "{}");
      if (data.status !== "done") throw new Error(`answer ${id} ended ${data.status}: ${data.error ?? ""}`);
      return; // leaving the loop cancels the stream
    }
  }
  throw new Error(`answer ${id}: the event stream ended before done`);
}

const TOPICS = [
  "the render pipeline",
  "a parser that stays linear",
  "cache invalidation in the browser",
  "matrix layout in memory",
  "streaming tokens to the page",
];

/** Writes 100 questions and their answers into one thread; returns its id. */
async function seedThread(base, cookie) {
  const started = Date.now();
  let threadId = null;
  for (let i = 1; i <= QUESTIONS; i++) {
    // The directive makes the fake answer with one section of markdown (~150
    // words) at 5,000 tokens/s whatever its configured pace.
    const text = `Question ${i}: explain ${TOPICS[i % TOPICS.length]}, with an example. [[fake:long words=120 tps=5000]]`;
    const res = await api(base, "POST", "/api/chat", {
      body: threadId ? { threadId, text } : { text },
      cookie,
      expect: 201,
    });
    const sent = await res.json();
    threadId = sent.thread.id;
    await waitForAnswer(base, cookie, sent.assistantMessage.id);
  }
  console.log(`seeded thread ${threadId}: ${QUESTIONS * 2} messages in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return threadId;
}

const ms = (v) => (v === undefined ? "n/a" : `${Math.round(v)} ms`);

/** Runs the Lighthouse CLI on one page; returns the parsed report. */
function lighthouse(url, cookie, outBase) {
  const bin = resolve(HERE, "../node_modules/.bin/lighthouse");
  const run = spawnSync(
    bin,
    [
      url,
      "--quiet",
      "--output=json",
      "--output=html",
      `--output-path=${outBase}`,
      `--only-categories=${CATEGORIES.map(([id]) => id).join(",")}`,
      `--chrome-flags=${CHROME_FLAGS.join(" ")}`,
      `--extra-headers=${JSON.stringify({ Cookie: cookie })}`,
    ],
    { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, CHROME_PATH: process.env.CHROME_PATH || "/usr/bin/chromium" } },
  );
  if (run.error) throw new Error(`lighthouse did not start (${bin}): ${run.error.message}`);
  if (run.status !== 0) throw new Error(`lighthouse exited with ${run.status} on ${url}`);
  const report = JSON.parse(readFileSync(`${outBase}.report.json`, "utf8"));
  if (report.runtimeError) throw new Error(`lighthouse on ${url}: ${report.runtimeError.code} ${report.runtimeError.message}`);
  return report;
}

/**
 * Lighthouse's scores vary from run to run (the performance score mostly
 * through Total Blocking Time, which the simulation derives from the main
 * thread's tasks as measured on this machine, however busy it is). As
 * Lighthouse's own guidance on variability advises, each page is audited
 * RUNS times (LIGHTHOUSE_RUNS, default 3, odd) and the run with the median
 * performance score is the one reported and checked against the minimums;
 * every run's score is printed. Reports of the median run are kept.
 */
function medianRun(name, url, cookie, outBase) {
  const runs = Number(process.env.LIGHTHOUSE_RUNS ?? 3);
  if (!Number.isInteger(runs) || runs < 1 || runs % 2 === 0) fail(`LIGHTHOUSE_RUNS must be an odd number >= 1 (got ${process.env.LIGHTHOUSE_RUNS})`);
  const reports = [];
  for (let i = 0; i < runs; i++) {
    // No dot in the name: with two outputs Lighthouse drops what follows one.
    const base = runs === 1 ? outBase : `${outBase}-run${i + 1}`;
    const report = lighthouse(url, cookie, base);
    reports.push({ report, base, perf: report.categories.performance.score ?? -1 });
  }
  const sorted = [...reports].sort((x, y) => x.perf - y.perf);
  const median = sorted[(runs - 1) / 2];
  if (runs > 1) {
    const fmt = (r) => (r.perf < 0 ? "error" : String(Math.round(r.perf * 100)));
    const tbt = (r) => ms(r.report.audits["total-blocking-time"]?.numericValue);
    console.log(`\n${name}: performance over ${runs} runs: ${reports.map((r) => `${fmt(r)} (TBT ${tbt(r)})`).join(", ")}; median ${fmt(median)}`);
    for (const ext of ["json", "html"]) copyFileSync(`${median.base}.report.${ext}`, `${outBase}.report.${ext}`);
  }
  return median.report;
}

/** Prints one page's figures; returns the categories below their minimum. */
function summarise(name, report, minimum) {
  const a = report.audits;
  console.log(`\n== ${name}: ${report.finalDisplayedUrl} (lighthouse ${report.lighthouseVersion}, ${report.configSettings.formFactor})`);
  const below = [];
  for (const [id, key] of CATEGORIES) {
    const c = report.categories[id];
    const score = c.score === null ? null : Math.round(c.score * 100);
    const ok = score !== null && score >= minimum[key];
    console.log(`  ${c.title.padEnd(15)} ${String(score ?? "error").padStart(5)}  (minimum ${minimum[key]})${ok ? "" : "  BELOW"}`);
    if (!ok) below.push(`${name}: ${c.title} ${score ?? "error"} < ${minimum[key]}`);
  }
  console.log(
    `  LCP ${ms(a["largest-contentful-paint"]?.numericValue)}, TBT ${ms(a["total-blocking-time"]?.numericValue)}, ` +
      `CLS ${a["cumulative-layout-shift"]?.numericValue?.toFixed(3) ?? "n/a"}, FCP ${ms(a["first-contentful-paint"]?.numericValue)}, ` +
      `Speed Index ${ms(a["speed-index"]?.numericValue)}, TTI ${ms(a["interactive"]?.numericValue)}`,
  );
  const lcpElement = a["largest-contentful-paint-element"]?.details?.items?.[0]?.items?.[0]?.node;
  if (lcpElement) console.log(`  LCP element: ${lcpElement.snippet}`);
  else console.log(`  LCP element: n/a (${(a["largest-contentful-paint-element"]?.errorMessage ?? "not reported").slice(0, 120)})`);
  // What the performance score is spent on: bytes, render-blocking
  // resources, the longest main-thread tasks (simulated mobile CPU).
  const kb = (b) => `${Math.round(b / 1024)} KB`;
  const weight = a["total-byte-weight"]?.numericValue;
  if (weight !== undefined) console.log(`  transferred: ${kb(weight)} in total`);
  const blocking = a["render-blocking-resources"]?.details?.items ?? [];
  for (const r of blocking) console.log(`  render-blocking: ${r.url} (${kb(r.totalBytes ?? 0)}, ${ms(r.wastedMs)})`);
  const tasks = (a["long-tasks"]?.details?.items ?? []).slice(0, 3);
  for (const t of tasks) console.log(`  long task: ${ms(t.duration)} at ${ms(t.startTime)} (${t.url})`);
  // Audits of the three categories that fail (binary audits at 0, metrics
  // and opportunities below 0.9), once each.
  const failing = new Set();
  for (const [id] of CATEGORIES) {
    for (const ref of report.categories[id].auditRefs) {
      const audit = a[ref.id];
      if (!audit || audit.score === null || failing.has(ref.id)) continue;
      if (audit.scoreDisplayMode === "informative" || audit.scoreDisplayMode === "notApplicable" || audit.scoreDisplayMode === "manual") continue;
      if (audit.score < (audit.scoreDisplayMode === "binary" ? 1 : 0.9)) {
        failing.add(ref.id);
        const value = audit.displayValue ? ` — ${audit.displayValue}` : "";
        const weight = ref.weight ? "" : " (no weight in the score)";
        console.log(`  failing [${id}] ${ref.id}: ${audit.title}${value}${weight}`);
      }
    }
  }
  if (!failing.size) console.log("  no failing audits");
  return below;
}

async function main() {
  const { base, budgets, out } = args();
  const minimum = thresholds(budgets);
  mkdirSync(out, { recursive: true });
  const cookie = await signUp(base);
  const threadId = await seedThread(base, cookie);
  const pages = [
    ["empty chat", `${base}/`, "chat"],
    ["thread of 200 messages", `${base}/t/${threadId}`, "thread"],
  ];
  const below = [];
  for (const [name, url, file] of pages) {
    const report = medianRun(name, url, cookie, join(out, file));
    below.push(...summarise(name, report, minimum));
  }
  console.log(`\nreports: ${out}/{chat,thread}.report.html`);
  if (below.length) {
    console.log(`\nFAILED: below the minimum in ${budgets} (lighthouse):`);
    for (const b of below) console.log(`  ${b}`);
    process.exit(1);
  }
  console.log("\nlighthouse: every score meets its minimum");
}

main().catch((e) => {
  console.error(`lighthouse: ${e.message}`);
  process.exit(2);
});

// The bundle is cached for good: its names carry a content hash, it is
// served brotli-compressed with `Cache-Control: immutable`, and a repeat
// visit (a second navigation, then a reload) takes the WASM, the JS and the
// CSS from the browser's cache — no bundle byte crosses the network again.
// Watched through the DevTools protocol: `Network.responseReceived` says
// whether a response came from the disk cache, `requestServedFromCache`
// whether the memory cache answered, `loadingFinished` how many bytes came
// over the wire.
import { test, expect, CDPSession } from "@playwright/test";
import { hydrated, uniqueEmail } from "./helpers";

type Seen = {
  url: string;
  status: number;
  headers: Record<string, string>;
  fromDiskCache: boolean;
  fromMemoryCache: boolean;
  encodedBytes: number;
};

/** Records every response of the page by request id. */
async function record(cdp: CDPSession) {
  const byId = new Map<string, Seen>();
  const memory = new Set<string>();
  await cdp.send("Network.enable");
  cdp.on("Network.requestServedFromCache", (e) => memory.add(e.requestId));
  cdp.on("Network.responseReceived", (e) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.response.headers)) headers[k.toLowerCase()] = String(v);
    byId.set(e.requestId, {
      url: e.response.url,
      status: e.response.status,
      headers,
      fromDiskCache: !!e.response.fromDiskCache || !!e.response.fromPrefetchCache,
      fromMemoryCache: memory.has(e.requestId),
      encodedBytes: 0,
    });
  });
  cdp.on("Network.loadingFinished", (e) => {
    const s = byId.get(e.requestId);
    if (s) {
      s.encodedBytes = e.encodedDataLength;
      s.fromMemoryCache ||= memory.has(e.requestId);
    }
  });
  return {
    take(): Seen[] {
      const all = [...byId.values()];
      byId.clear();
      memory.clear();
      return all;
    },
  };
}

const bundle = (s: Seen) => new URL(s.url).pathname.startsWith("/pkg/");

test("the bundle is hashed, brotli-compressed, immutable, and not downloaded again", async ({ page }, info) => {
  const email = uniqueEmail(info, "assets");
  const reg = await page.request.post("/api/auth/email/register", { data: { email, password: "correct horse battery" } });
  expect(reg.status()).toBe(201);

  const cdp = await page.context().newCDPSession(page);
  const net = await record(cdp);

  // First visit: everything comes over the network, compressed.
  await page.goto("/");
  await hydrated(page);
  const first = net.take();
  const files = first.filter(bundle);
  const wasm = files.filter((s) => s.url.endsWith(".wasm"));
  // One WASM file (the preload hint and the fetch of the glue may both ask for it).
  expect(new Set(wasm.map((s) => s.url)).size, JSON.stringify(files.map((s) => s.url))).toBe(1);
  for (const kind of [".wasm", ".js", ".css"]) {
    expect(files.some((s) => s.url.endsWith(kind)), `a ${kind} file on the page`).toBe(true);
  }
  for (const s of files) {
    const path = new URL(s.url).pathname;
    expect(path, "content-hashed name").toMatch(/^\/pkg\/[^/]+\.[A-Za-z0-9_-]{22}\.(wasm|js|css)$/);
    expect(s.status, path).toBe(200);
    expect(s.headers["cache-control"], path).toBe("public, max-age=31536000, immutable");
    expect(s.headers["content-encoding"], path).toBe("br");
    expect(s.headers["vary"], path).toMatch(/accept-encoding/i);
    expect(s.headers["x-content-type-options"], path).toBe("nosniff");
  }
  for (const url of new Set(files.map((s) => s.url))) {
    const fetched = files.some((s) => s.url === url && !s.fromDiskCache && !s.fromMemoryCache);
    expect(fetched, `${url} came over the network on a fresh cache`).toBe(true);
  }
  expect(wasm[0].headers["content-type"]).toBe("application/wasm");
  const doc = first.find((s) => new URL(s.url).pathname === "/");
  expect(doc?.headers["cache-control"] ?? "", "the page itself is not cached").not.toMatch(/immutable|max-age/);

  // A second navigation, then a reload: the page is fetched again, the
  // bundle comes from the cache (no revalidation either: immutable).
  for (const how of ["navigation", "reload"] as const) {
    if (how === "navigation") await page.goto("/");
    else await page.reload();
    await hydrated(page);
    const again = net.take();
    const page_ = again.find((s) => new URL(s.url).pathname === "/");
    expect(page_?.fromDiskCache, `${how}: the HTML is fetched anew`).toBe(false);
    const repeat = again.filter(bundle);
    for (const s of repeat) {
      const path = new URL(s.url).pathname;
      expect(s.fromDiskCache || s.fromMemoryCache, `${how}: ${path} came over the network`).toBe(true);
      expect(s.status, `${how}: ${path} (no 304 round trip)`).toBe(200);
    }
    const wasmBytes = repeat.filter((s) => s.url.endsWith(".wasm")).reduce((n, s) => n + s.encodedBytes, 0);
    expect(wasmBytes, `${how}: WASM bytes over the network`).toBe(0);
  }
});

// Pages a person opens rarely are separate WASM chunks (`--split`): the chat
// page downloads only the main bundle; opening settings fetches a chunk of its
// own the first time, and the page works (the share dialog, also a chunk, is
// used by threads.spec.ts).
test("settings pages are chunks the chat page does not download", async ({ page }, info) => {
  const email = uniqueEmail(info, "chunks");
  const reg = await page.request.post("/api/auth/email/register", { data: { email, password: "correct horse battery" } });
  expect(reg.status()).toBe(201);
  const cdp = await page.context().newCDPSession(page);
  const net = await record(cdp);
  const wasmUrls = (seen: Seen[]) => [...new Set(seen.filter((s) => s.url.endsWith(".wasm")).map((s) => new URL(s.url).pathname))];

  await page.goto("/");
  await hydrated(page);
  // Let anything loaded after hydration arrive before counting.
  await page.waitForLoadState("networkidle");
  const main = wasmUrls(net.take());
  expect(main, "the chat page loads the main bundle only").toHaveLength(1);

  // Client-side navigation to a settings page loads its chunk.
  await page.goto("/");
  await hydrated(page);
  net.take();
  await page.evaluate(() => {
    const a = document.createElement("a");
    a.href = "/settings/appearance";
    a.id = "to-settings";
    a.textContent = "settings";
    document.body.appendChild(a);
  });
  await page.locator("#to-settings").click();
  await expect(page.getByRole("heading", { name: "Appearance" })).toBeVisible();
  const settingsChunks = wasmUrls(net.take()).filter((u) => !main.includes(u));
  expect(settingsChunks.length, "opening settings fetched a chunk").toBeGreaterThan(0);
  for (const u of settingsChunks) {
    const r = await page.request.get(u, { headers: { "accept-encoding": "br" } });
    expect(r.status(), u).toBe(200);
    expect(r.headers()["cache-control"], u).toBe("public, max-age=31536000, immutable");
  }
  // The chunk's page works: the theme switch answers.
  await page.getByRole("radio", { name: "Dark" }).check();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");

  // Loaded directly, a settings page hydrates with its chunk.
  await page.goto("/settings/account");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
});

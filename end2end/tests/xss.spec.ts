// Hostile markdown in assistant messages, rendered by the real browser on the
// thread page and on the public share page: no dialog opens, no script runs,
// and no element in a message body carries a handler or a script URL.
// The cases are in hostile-markdown.ts.
import { test, expect, Page } from "@playwright/test";
import { randomUUID } from "crypto";
import { hydrated, uniqueEmail } from "./helpers";
import { hostileCases } from "./hostile-markdown";

const PASSWORD = "correct horse battery";

/** Loads `url` and checks every message body is inert. */
async function expectInert(page: Page, url: string, messages: number) {
  const dialogs: string[] = [];
  page.on("dialog", async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  await page.goto(url);
  await hydrated(page);
  await expect(page.getByTestId("message")).toHaveCount(messages);
  // The markdown path is live: the sanity message is rendered, not shown raw.
  await expect(page.locator(".message-body strong", { hasText: "rendered" })).toHaveCount(1);
  // Failed image loads (where an onerror would fire) have happened.
  await page.waitForLoadState("load");
  await page.waitForTimeout(300);
  const report = await page.evaluate(() => {
    const bad: string[] = [];
    const forbidden = ["script", "iframe", "object", "embed", "style", "svg", "form", "base", "meta", "link"];
    for (const body of Array.from(document.querySelectorAll(".message-body"))) {
      for (const el of Array.from(body.querySelectorAll("*"))) {
        const tag = el.tagName.toLowerCase();
        if (forbidden.includes(tag)) bad.push(`<${tag}>`);
        for (const a of Array.from(el.attributes)) {
          const v = a.value.replace(/[\u0000-\u0020]/g, "").toLowerCase();
          if (a.name.startsWith("on")) bad.push(`<${tag} ${a.name}="${a.value}">`);
          if (/^(javascript:|vbscript:|data:text)/.test(v)) bad.push(`<${tag} ${a.name}="${a.value}">`);
        }
      }
    }
    return { bad, xss: (window as unknown as { __xss?: number }).__xss ?? null };
  });
  expect(report.bad).toEqual([]);
  expect(report.xss).toBeNull();
  expect(dialogs).toEqual([]);
}

test("hostile markdown stays inert on the thread page and the share page", async ({ page, browser }, info) => {
  const email = uniqueEmail(info, "xss");
  const reg = await page.request.post("/api/auth/email/register", {
    data: { email, password: PASSWORD, name: "XSS Tester" },
  });
  expect(reg.status()).toBe(201);
  const created = await page.request.post("/api/thread", {
    data: { action: "create", data: { name: "Hostile markdown" } },
  });
  expect(created.status()).toBe(201);
  const threadId: string = (await created.json()).thread.id;

  // One chain of messages: a question, a sanity answer, then a hostile answer each.
  const texts = ["Show me everything.", "This is **rendered** markdown.", ...hostileCases()];
  let parentId: string | undefined;
  const start = Date.now() - texts.length * 1000;
  const messages = texts.map((text, k) => {
    const idMessage = randomUUID();
    const m = {
      idMessage,
      idThread: threadId,
      role: k === 0 ? "user" : "assistant",
      text,
      parentId,
      date: start + k * 1000,
    };
    parentId = idMessage;
    return m;
  });
  const sync = await page.request.post("/api/thread", { data: { action: "sync", messages } });
  expect(sync.status()).toBe(200);
  expect((await sync.json()).inserted).toBe(texts.length);

  await test.step("thread page", async () => {
    await expectInert(page, `/t/${threadId}`, texts.length);
  });

  await test.step("share page, seen by a stranger", async () => {
    const share = await page.request.post("/api/thread", { data: { action: "share", idThread: threadId } });
    expect(share.status()).toBe(200);
    const code: string = (await share.json()).shareCode;
    expect(code).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    const stranger = await browser.newContext();
    try {
      await expectInert(await stranger.newPage(), `/s/${code}`, texts.length);
    } finally {
      await stranger.close();
    }
  });
});

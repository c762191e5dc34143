// Threads: lazy-loaded sidebar, rename, share by link (seen from a fresh
// browser context), revoke, delete.
import { test, expect } from "@playwright/test";
import { hydrated, uniqueEmail, shot, noHorizontalOverflow, openSidebar } from "./helpers";

const PASSWORD = "correct horse battery";

test("sidebar paging, rename, share, revoke, delete", async ({ page, browser }, info) => {
  const email = uniqueEmail(info, "threads");
  const reg = await page.request.post("/api/auth/email/register", {
    data: { email, password: PASSWORD, name: "Thread Tester" },
  });
  expect(reg.status()).toBe(201);

  // 45 threads: more than one sidebar page (30).
  let firstId = "";
  for (let i = 1; i <= 45; i++) {
    const r = await page.request.post("/api/thread", {
      data: { action: "create", data: { name: `Thread number ${i}` } },
    });
    expect(r.status()).toBe(201);
    if (i === 45) firstId = (await r.json()).thread.id;
  }
  // Give the newest thread a short conversation for the shared page.
  const u = "11111111-1111-4111-8111-111111111111".replace(/1/g, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).replace(/^(.{14})./, "$14").replace(/^(.{19})./, "$18");
  const a = "22222222-2222-4222-8222-222222222222".replace(/2/g, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).replace(/^(.{14})./, "$14").replace(/^(.{19})./, "$18");
  const sync = await page.request.post("/api/thread", {
    data: {
      action: "sync",
      messages: [
        { idMessage: u, idThread: firstId, role: "user", text: "What is <b>bold</b>?", date: Date.now() - 2000 },
        { idMessage: a, idThread: firstId, role: "assistant", text: "It is a tag, shown here as text.", parentId: u, date: Date.now() - 1000 },
      ],
    },
  });
  expect(sync.status()).toBe(200);
  expect((await sync.json()).inserted).toBe(2);

  await page.goto("/");
  await hydrated(page);
  await openSidebar(page);
  const items = page.getByTestId("thread-item");
  await expect(items).toHaveCount(30);
  await expect(page.getByTestId("thread-list")).toContainText("Today");

  // Scrolling to the bottom loads the next page.
  await page.getByTestId("thread-list").evaluate((el) => el.scrollTo(0, el.scrollHeight));
  await expect(items).toHaveCount(45);
  await noHorizontalOverflow(page);
  await shot(page, info, "sidebar");

  // Search is server-side.
  await page.getByTestId("thread-search").fill("number 4");
  await expect(items).toHaveCount(7); // 4, 40..45
  await page.getByTestId("thread-search").fill("");
  await expect(items).toHaveCount(30);

  // Rename inline.
  const first = items.first();
  await expect(first).toContainText("Thread number 45");
  await first.getByTestId("thread-menu").click();
  await page.getByTestId("thread-rename").click();
  const input = page.getByTestId("thread-rename-input");
  await input.fill("Renamed in the sidebar");
  await input.press("Enter");
  await expect(items.first()).toContainText("Renamed in the sidebar");

  // Open it: the messages show, HTML as text.
  await items.first().locator("a").click();
  await expect(page).toHaveURL(new RegExp(`/t/${firstId}$`));
  await expect(page.getByTestId("message")).toHaveCount(2);
  await expect(page.getByTestId("message").first()).toContainText("What is <b>bold</b>?");
  await shot(page, info, "thread");

  // Share, then read the link in a fresh browser context (no cookie).
  await openSidebar(page);
  await items.first().getByTestId("thread-menu").click();
  await page.getByTestId("thread-share").click();
  await page.getByTestId("share-create").click();
  const url = await page.getByTestId("share-url").inputValue();
  expect(url).toMatch(/\/s\/[A-Za-z0-9_-]{22,}$/);
  // A link is a snapshot, and the dialog says of what.
  await expect(page.getByTestId("share-snapshot")).toContainText("Shows 2 messages");
  await shot(page, info, "share-dialog");
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await other.goto(url);
  await expect(other.getByText("Shared conversation")).toBeVisible();
  await expect(other.getByRole("heading", { name: "Renamed in the sidebar" })).toBeVisible();
  await expect(other.getByTestId("message")).toHaveCount(2);
  const html = await other.content();
  expect(html).not.toContain(email);
  expect(html).toContain('name="robots" content="noindex');

  // Revoke: the link stops working.
  await page.getByTestId("share-revoke").click();
  await expect(page.getByTestId("share-create")).toBeVisible();
  const gone = await other.goto(url);
  expect(gone?.status()).toBe(404);
  await expect(other.getByText("This link is not available")).toBeVisible();
  await stranger.close();
  await page.keyboard.press("Escape");

  // Delete with confirmation.
  await openSidebar(page);
  await items.nth(1).getByTestId("thread-menu").click();
  await page.getByTestId("thread-delete").click();
  await page.getByTestId("thread-delete-confirm").click();
  await expect(page.getByText("Thread number 44")).toHaveCount(0);
});

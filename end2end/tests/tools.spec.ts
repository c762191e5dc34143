// Tools in chat (issue 14): the Search toggle, "Searching the web…" while the
// tool runs, numbered citation markers in the answer, the Sources list they
// link to, and the same citations after a reload and on the share page.
import { test, expect, Page } from "@playwright/test";
import { hydrated, uniqueEmail, shot, noHorizontalOverflow } from "./helpers";

const PASSWORD = "correct horse battery";

async function signUpWithKey(page: Page, tag: string, info: any) {
  const email = uniqueEmail(info, tag);
  expect((await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  expect((await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-key-0001" } })).status()).toBe(200);
}

function lastAnswer(page: Page) {
  return page.locator("[data-testid='message'][data-role='assistant']").last();
}

async function checkCitations(page: Page) {
  const answer = lastAnswer(page);
  await expect(answer).toContainText("The fake web says the sky is blue.", { timeout: 20_000 });
  await expect(answer).toContainText("That is all the fake search found.");
  // Three markers: 1, 2, then 1 again (a page cited twice keeps its number).
  await expect(answer.locator("sup.cite a")).toHaveText(["1", "2", "1"]);
  const sources = answer.getByTestId("source");
  await expect(sources).toHaveCount(2);
  await expect(sources.nth(0)).toContainText("Fake source one");
  await expect(sources.nth(0)).toContainText("example.com");
  await expect(sources.nth(1)).toContainText("Fake source two");
  await expect(sources.nth(1)).toContainText("example.org");
  const link = sources.nth(1).locator("a");
  await expect(link).toHaveAttribute("href", "https://example.org/two");
  await expect(link).toHaveAttribute("target", "_blank");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer");
  return answer;
}

test("search the web: progress, numbered citations, sources, reload, share", async ({ page }, info) => {
  // No request may leave the browser for a third party (no favicon service).
  const foreign: string[] = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.hostname !== "127.0.0.1") foreign.push(r.url());
  });
  await signUpWithKey(page, "search", info);
  await page.goto("/");
  await hydrated(page);
  const toggle = page.getByTestId("search-toggle");
  await expect(toggle).toBeVisible();
  await expect(toggle).toHaveAttribute("aria-pressed", "false");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-pressed", "true");

  await page.getByTestId("composer-input").fill("Is the sky blue? [[fake:tool-ms=2000]]");
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  await expect(lastAnswer(page).getByTestId("tool-progress")).toHaveText("Searching the web…");
  const answer = await checkCitations(page);
  await expect(answer.getByTestId("tool-progress")).toHaveCount(0);
  await noHorizontalOverflow(page);
  await shot(page, info, "search-answer");

  // A marker scrolls to its source and highlights it.
  await answer.locator("sup.cite a").nth(1).click();
  const second = answer.getByTestId("source").nth(1);
  await expect(second).toHaveClass(/cited/);
  await expect(second).toBeInViewport();
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);

  // After a reload: the same citations, from the server's page; the toggle
  // is remembered for this thread.
  await page.reload();
  await hydrated(page);
  await checkCitations(page);
  await expect(page.getByTestId("search-toggle")).toHaveAttribute("aria-pressed", "true");

  // The share page shows them too.
  const threadId = page.url().split("/t/")[1];
  const shared = await page.request.post("/api/thread", { data: { action: "share", idThread: threadId } });
  expect(shared.status()).toBe(200);
  const code = (await shared.json()).shareCode;
  await page.goto(`/s/${code}`);
  await hydrated(page);
  await checkCitations(page);
  expect(foreign).toEqual([]);
});

test("the shortcut toggles search, and search is off for a new thread", async ({ page }, info) => {
  await signUpWithKey(page, "searchkey", info);
  await page.goto("/");
  await hydrated(page);
  const toggle = page.getByTestId("search-toggle");
  await expect(toggle).toHaveAttribute("aria-pressed", "false");
  await page.keyboard.press("Control+Alt+KeyS");
  await expect(toggle).toHaveAttribute("aria-pressed", "true");
  await page.keyboard.press("Control+Alt+KeyS");
  await expect(toggle).toHaveAttribute("aria-pressed", "false");
  // Without search, the answer is a plain chat completion (no sources).
  await page.getByTestId("composer-input").fill("Plain");
  await page.getByTestId("composer-input").press("Enter");
  await expect(lastAnswer(page)).toContainText("You said: Plain.", { timeout: 20_000 });
  await expect(lastAnswer(page).getByTestId("sources")).toHaveCount(0);
});

test("make an image: progress, the picture inline, open, download, reload, share", async ({ page }, info) => {
  await signUpWithKey(page, "image", info);
  await page.goto("/");
  await hydrated(page);
  const toggle = page.getByTestId("image-toggle");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-pressed", "true");
  await page.getByTestId("composer-input").fill("Draw a cat [[fake:image]] [[fake:tool-ms=2500]]");
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  await expect(lastAnswer(page).getByTestId("tool-progress")).toHaveText("Creating an image…");
  // A reload while the image is being made shows the same state.
  await page.reload();
  await hydrated(page);
  const image = lastAnswer(page).getByTestId("attachment-image");
  await expect(image).toBeVisible({ timeout: 20_000 });
  await expect(lastAnswer(page)).toContainText("Here is your image.");
  // The picture loaded from our server, at its size, with its prompt.
  const size = await image.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight, img.complete]);
  expect(size).toEqual([64, 48, true]);
  await expect(image).toHaveAttribute("alt", "A fake picture for the test");
  const src = await image.getAttribute("src");
  expect(src).toMatch(/^\/api\/files\/[0-9a-f-]{36}$/);
  const open = lastAnswer(page).locator("a.attachment-open");
  await expect(open).toHaveAttribute("href", src!);
  await expect(open).toHaveAttribute("target", "_blank");
  const file = await page.request.get(src!);
  expect(file.status()).toBe(200);
  expect(file.headers()["content-type"]).toBe("image/png");
  expect(file.headers()["x-content-type-options"]).toBe("nosniff");
  const download = lastAnswer(page).getByTestId("attachment-download");
  await expect(download).toHaveAttribute("download", /\.png$/);
  // No base64 in the page's text.
  expect(await lastAnswer(page).innerText()).not.toContain("base64");
  await noHorizontalOverflow(page);
  await shot(page, info, "image-answer");

  // The share page shows it through the share's own address.
  const threadId = page.url().split("/t/")[1];
  const shared = await page.request.post("/api/thread", { data: { action: "share", idThread: threadId } });
  const code = (await shared.json()).shareCode;
  await page.goto(`/s/${code}`);
  await hydrated(page);
  const sharedImage = lastAnswer(page).getByTestId("attachment-image");
  await expect(sharedImage).toHaveAttribute("src", new RegExp(`^/api/shared/${code}/files/`));
  expect(await sharedImage.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(64);
});

// Access without login (issue 17), against the second server the config
// starts with ALLOW_GUESTS=true and GUEST_SERVER_KEY=true (5 answers a day
// per guest on the operator's key): a visitor chats with no account, keeps
// the chat across a reload, and brings it into a new account or into an
// existing one; a guest in one browser hands its chats to an account signed
// in elsewhere with a one-time link.
import { test, expect, Page, request as playwrightRequest } from "@playwright/test";
import { hydrated, uniqueEmail, shot, noHorizontalOverflow, openSidebar, GUEST_BASE_URL } from "./helpers";

test.use({ baseURL: GUEST_BASE_URL });

const PASSWORD = "correct horse battery";

function lastAnswer(page: Page) {
  return page.locator("[data-testid='message'][data-role='assistant']").last();
}

async function sessionCookie(page: Page) {
  return (await page.context().cookies()).find((c) => c.name === "access_token");
}

/** Fills in the sign-in (or sign-up) form and lands back on `back`. */
async function submitCredentials(page: Page, email: string, back: string) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await expect(page).toHaveURL(back);
  await hydrated(page);
}

/** A visitor opens the app and asks one question; the thread's URL. */
async function chatAsVisitor(page: Page, question: string) {
  await page.goto("/");
  // The chat, not a login wall; and a page view makes no session.
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  expect(await sessionCookie(page)).toBeUndefined();
  const banner = page.getByTestId("guest-banner");
  await expect(banner).toContainText("Sign in to keep your chats on all your devices");
  await expect(page.getByTestId("guest-quota")).toHaveText("5 of 5 free answers left today.");
  // The banner is in the server's HTML (no flash, no script needed).
  expect(await (await page.request.get("/")).text()).toContain("Sign in to keep your chats on all your devices");

  await page.getByTestId("composer-input").fill(question);
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);
  await expect(lastAnswer(page)).toContainText(`You said: ${question}`, { timeout: 15_000 });
  await expect(lastAnswer(page)).toContainText("That is all from the fake Mistral.", { timeout: 20_000 });
  // The first write made the guest: an HttpOnly session like anyone's.
  const cookie = await sessionCookie(page);
  expect(cookie?.httpOnly).toBe(true);
  await expect(page.getByTestId("guest-quota")).toHaveText("4 of 5 free answers left today.");
  return page.url();
}

test("a visitor chats without an account, reloads, signs up and keeps the chat", async ({ page }, info) => {
  const question = `Guest question ${info.project.name}`;
  const threadUrl = await chatAsVisitor(page, question);
  await noHorizontalOverflow(page);
  await shot(page, info, "guest-chat");

  // Reload: the chat is still there (it lives on the server).
  await page.reload();
  await hydrated(page);
  await expect(page.locator("[data-testid='message'][data-role='user']").first()).toContainText(question);
  await expect(lastAnswer(page)).toContainText("That is all from the fake Mistral.");
  await openSidebar(page);
  await expect(page.getByTestId("guest-badge")).toContainText("Guest");
  await expect(page.getByTestId("thread-item")).toHaveCount(1);

  // No public link for a guest: the dialog says why and offers an account.
  await page.getByTestId("thread-item").first().getByTestId("thread-menu").click();
  await page.getByTestId("thread-share").click();
  await expect(page.getByTestId("guest-share-note")).toContainText("Guests cannot share chats by link");
  await expect(page.getByTestId("share-create")).toHaveCount(0);
  await page.keyboard.press("Escape");

  // Dismissed, the banner stays away on the next page too.
  await page.getByTestId("guest-banner-dismiss").click();
  await expect(page.getByTestId("guest-banner")).toHaveCount(0);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("guest-banner")).toHaveCount(0);
  await page.context().clearCookies({ name: "guest_banner" });
  await page.reload();
  await hydrated(page);

  // Sign up from the banner: back on the same thread, now in the account.
  await page.getByTestId("guest-banner").getByTestId("guest-register").click();
  await expect(page).toHaveURL(/\/login\?mode=register&redirect=%2Ft%2F/);
  await hydrated(page);
  const email = uniqueEmail(info, "guest-up");
  await submitCredentials(page, email, threadUrl);
  await expect(page.getByTestId("merge-notice").locator("p")).toHaveText(
    /Your guest chats are now in this account: 1 chat, 2 messages\./,
  );
  await expect(lastAnswer(page)).toContainText(`You said: ${question}`);
  await expect(page.getByTestId("guest-banner")).toHaveCount(0);
  await openSidebar(page);
  await expect(page.getByTestId("guest-badge")).toHaveCount(0);
  await expect(page.locator(".user-email")).toHaveText(email);
  await expect(page.getByTestId("thread-item")).toHaveCount(1);
  await shot(page, info, "guest-merged");
  // The notice is told once.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("merge-notice")).toHaveCount(0);
});

test("a guest signs in to an existing account: both sets of chats, the account's key kept", async ({ page }, info) => {
  // The account, made elsewhere, with a thread and its own key.
  const email = uniqueEmail(info, "guest-in");
  const elsewhere = await playwrightRequest.newContext({ baseURL: GUEST_BASE_URL });
  expect((await elsewhere.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  expect((await elsewhere.put("/api/settings/key", { data: { apiKey: "sk-e2e-account-0001" } })).status()).toBe(200);
  expect((await elsewhere.post("/rpc/create_thread", { form: { name: "From the account" } })).status()).toBe(200);
  await elsewhere.dispose();

  const question = `Guest then sign in ${info.project.name}`;
  const threadUrl = await chatAsVisitor(page, question);
  // The guest saves a key of its own too.
  expect((await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-guest-0002" } })).status()).toBe(200);

  await openSidebar(page);
  await page.getByTestId("guest-badge").locator("..").getByTestId("guest-sign-in").click();
  await expect(page).toHaveURL(/\/login\?redirect=%2Ft%2F/);
  await hydrated(page);
  await expect(page.getByTestId("guest-continue")).toContainText("Your guest chats come with you");
  await submitCredentials(page, email, threadUrl);
  await expect(page.getByTestId("merge-notice").locator("p")).toHaveText(
    "Your guest chats are now in this account: 1 chat, 2 messages. Your account's Mistral key was kept; the key saved as a guest was discarded.",
  );
  await openSidebar(page);
  await expect(page.getByTestId("thread-item")).toHaveCount(2);
  await expect(page.getByTestId("thread-item").filter({ hasText: "From the account" })).toHaveCount(1);
  const settings = await (await page.request.get("/api/settings")).json();
  expect(settings.hasKey).toBe(true);
  expect(settings.keyLast4).toBe("0001");
});

test("a guest hands its chats to an account signed in in another browser", async ({ page, browser }, info) => {
  const question = `Claimed elsewhere ${info.project.name}`;
  await chatAsVisitor(page, question);
  await page.goto("/settings/account");
  await hydrated(page);
  await expect(page.getByTestId("guest-account")).toContainText("You are chatting without an account");
  await page.getByTestId("claim-link").click();
  const url = await page.getByTestId("claim-url").inputValue();
  expect(url).toMatch(/\/auth\/claim\?code=/);
  await shot(page, info, "guest-claim-link");

  // The other browser: signed in to an account, it opens the link.
  const laptop = await browser.newContext({ baseURL: GUEST_BASE_URL });
  const other = await laptop.newPage();
  const email = uniqueEmail(info, "claimer");
  expect((await other.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  await other.goto(url);
  await expect(other).toHaveURL(/\/\?claimed=1$/);
  await hydrated(other);
  await expect(other.getByTestId("merge-notice").locator("p")).toContainText("Your guest chats are now in this account: 1 chat");
  await openSidebar(other);
  await expect(other.getByTestId("thread-item")).toHaveCount(1);
  // Used once: the same link again says so.
  await other.goto(url);
  await expect(other).toHaveURL(/\/\?claim=invalid$/);
  await hydrated(other);
  await expect(other.getByTestId("merge-notice").locator("p")).toContainText("already used");
  await laptop.close();

  // The guest's session is gone with its chats: the first browser is a
  // visitor again, with an empty chat.
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("guest-banner")).toBeVisible();
  await openSidebar(page);
  await expect(page.getByTestId("thread-item")).toHaveCount(0);
});

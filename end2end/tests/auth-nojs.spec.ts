// The login form before (or without) its script: a phone on a slow network
// may submit it before the WASM has loaded. It must post itself (never a
// GET with the password in the URL), sign in or register, and show a
// sentence on failure — with JavaScript disabled altogether here.
import { test, expect, Page } from "@playwright/test";
import { uniqueEmail } from "./helpers";

test.use({ javaScriptEnabled: false });

const PASSWORD = "correct horse battery";

/** Every URL the page requests, for "no credentials in a URL". */
function requestedUrls(page: Page): string[] {
  const urls: string[] = [];
  page.on("request", (r) => urls.push(r.url()));
  return urls;
}

function expectNoCredentials(urls: string[], email: string) {
  expect(urls.length).toBeGreaterThan(0);
  for (const url of urls) {
    expect(url).not.toContain("password");
    expect(url).not.toContain(encodeURIComponent(PASSWORD));
    expect(url).not.toContain(encodeURIComponent(email));
    expect(url).not.toContain(email);
  }
}

async function expectSignedIn(page: Page, email: string) {
  const cookie = (await page.context().cookies()).find((c) => c.name === "access_token");
  expect(cookie?.httpOnly).toBe(true);
  const me = await page.request.get("/api/user");
  expect(me.status()).toBe(200);
  expect((await me.json()).email).toBe(email.toLowerCase());
}

test("register, sign out and sign in again without JavaScript", async ({ page }, info) => {
  const urls = requestedUrls(page);
  const email = uniqueEmail(info, "nojs");

  // The mode switch is a real link.
  await page.goto("/login?redirect=/settings/account");
  await page.getByTestId("auth-switch").click();
  await expect(page).toHaveURL(/\/login\?mode=register&redirect=%2Fsettings%2Faccount$/);
  await expect(page.getByTestId("auth-title")).toHaveText("Create your account");

  // A too-short password: back to the form with a sentence, still registering.
  await page.getByLabel("Name (optional)").fill("No Script");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("short");
  await page.getByTestId("auth-submit").click();
  await expect(page).toHaveURL(/\/login\?error=length&mode=register&redirect=%2Fsettings%2Faccount$/);
  await expect(page.getByTestId("auth-error")).toHaveText("Use a password of at least 8 characters (at most 1024)");
  await expect(page.getByTestId("auth-title")).toHaveText("Create your account");

  // Nothing typed came back in the URL, so the fields are filled again.
  await page.getByLabel("Name (optional)").fill("No Script");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await expect(page).toHaveURL(/\/settings\/account$/);
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
  await expectSignedIn(page, email);
  const me = await (await page.request.get("/api/user")).json();
  expect(me.name).toBe("No Script");

  // Signed out, then a wrong password: the sentence, no session.
  await page.context().clearCookies();
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("wrong password!");
  await page.getByTestId("auth-submit").click();
  await expect(page).toHaveURL(/\/login\?error=invalid$/);
  await expect(page.getByTestId("auth-error")).toHaveText("Invalid email or password");
  expect((await page.context().cookies()).find((c) => c.name === "access_token")).toBeUndefined();

  // The right one: the chat page, signed in.
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "What can I help with?" })).toBeVisible();
  await expect(page.getByTestId("composer")).toBeVisible();
  await expectSignedIn(page, email);

  expectNoCredentials(urls, email);
});

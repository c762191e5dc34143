// Accounts: register, sign out, sign in, delete the account — in the browser.
import { test, expect } from "@playwright/test";
import { hydrated, uniqueEmail, shot, noHorizontalOverflow, openSidebar } from "./helpers";

const PASSWORD = "correct horse battery";

test("register, sign out, sign in, delete the account", async ({ page }, info) => {
  const email = uniqueEmail(info, "flow");

  await page.goto("/login?redirect=/settings/account");
  await hydrated(page);
  await page.getByTestId("auth-switch").click();
  await page.getByLabel("Name (optional)").fill("Flow Tester");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("short");
  await page.getByTestId("auth-submit").click();
  await expect(page.getByTestId("auth-error")).toContainText("at least 8 characters");

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await expect(page).toHaveURL(/\/settings\/account$/);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
  await expect(page.locator(".kv")).toContainText(email);
  await noHorizontalOverflow(page);
  await shot(page, info, "settings-account");

  // Sign out (on small screens the user box lives in the drawer).
  await openSidebar(page);
  await page.getByTestId("sign-out").click();
  await expect(page).toHaveURL(/\/login/);
  const cookies = await page.context().cookies();
  expect(cookies.find((c) => c.name === "access_token")).toBeUndefined();

  // Wrong password: an inline error, no session.
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("wrong password!");
  await page.getByTestId("auth-submit").click();
  await expect(page.getByTestId("auth-error")).toHaveText("Invalid email or password");

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  const cookie = (await page.context().cookies()).find((c) => c.name === "access_token");
  expect(cookie?.httpOnly).toBe(true);

  // Delete the account: the button stays disabled until the email is typed.
  await page.goto("/settings/account");
  await hydrated(page);
  await page.getByTestId("delete-account").click();
  const confirm = page.getByTestId("confirm-delete");
  await expect(confirm).toBeDisabled();
  await page.getByTestId("confirm-delete-input").fill("not my email");
  await expect(confirm).toBeDisabled();
  await page.getByTestId("confirm-delete-input").fill(email);
  await expect(confirm).toBeEnabled();
  await confirm.click();
  await expect(page).toHaveURL(/\/login/);

  // The account is gone: signing in again fails.
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await expect(page.getByTestId("auth-error")).toHaveText("Invalid email or password");
});

test("sign out of all devices ends every session", async ({ page, browser }, info) => {
  const email = uniqueEmail(info, "everywhere");
  const reg = await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } });
  expect(reg.status()).toBe(201);

  // A second device signed in to the same account.
  const laptop = await browser.newContext();
  const other = await laptop.newPage();
  const login = await other.request.post("/api/auth/email/login", { data: { email, password: PASSWORD } });
  expect(login.status()).toBe(200);
  expect((await other.request.get("/api/auth/validate")).status()).toBe(200);

  await page.goto("/settings/account");
  await hydrated(page);
  await page.getByTestId("sign-out-everywhere").click();
  await expect(page).toHaveURL(/\/login/);

  // Both sessions are gone: the other device is sent to the login page.
  expect((await other.request.get("/api/auth/validate")).status()).toBe(401);
  await other.goto("/settings/account");
  await expect(other).toHaveURL(/\/login/);
  expect((await page.request.get("/api/auth/validate")).status()).toBe(401);
  await laptop.close();
});

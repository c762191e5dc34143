// Foundation: the server renders real HTML, and the WASM hydrates it.
import { test, expect } from "@playwright/test";
import { hydrated, shot, noHorizontalOverflow } from "./helpers";

test("the login page is server-rendered, then hydrated", async ({ page, request }, info) => {
  // Server-rendered HTML, before any script runs.
  const raw = await request.get("/login");
  expect(raw.status()).toBe(200);
  const html = await raw.text();
  expect(html).toContain("<form");
  expect(html).toContain("Sign in");
  // The bundle's names carry its content hash (cached for a year: assets.spec.ts).
  expect(html).toMatch(/\/pkg\/mistralchat\.[A-Za-z0-9_-]{22}\.js/);

  await page.goto("/login");
  await hydrated(page);
  // The mode switch only works once the WASM runs.
  await expect(page.getByTestId("auth-title")).toHaveText("Sign in");
  await page.getByTestId("auth-switch").click();
  await expect(page.getByTestId("auth-title")).toHaveText("Create your account");
  await expect(page.getByLabel("Name (optional)")).toBeVisible();
  await noHorizontalOverflow(page);
  await shot(page, info, "login-register");
});

test("the home page sends visitors without a session to sign in", async ({ page }) => {
  await page.goto("/settings/account");
  await expect(page).toHaveURL(/\/login\?redirect=\/settings\/account/);
});

// Settings → Models saves as you go (no Save button to forget), a key
// Mistral refuses is not saved unless you insist, and Settings → Account
// describes what deleting the account really removes.
import { test, expect, Page } from "@playwright/test";
import { hydrated, uniqueEmail, noHorizontalOverflow } from "./helpers";

const PASSWORD = "correct horse battery";

async function signUp(page: Page, tag: string, info: any) {
  const email = uniqueEmail(info, tag);
  expect((await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  return email;
}

async function settings(page: Page) {
  return (await page.request.get("/api/settings")).json();
}

test("the fast list and the defaults save as they are made", async ({ page }, info) => {
  await signUp(page, "autosave", info);
  expect((await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-settings-0001" } })).status()).toBe(200);
  await page.goto("/settings/models");
  await hydrated(page);
  await expect(page.getByTestId("catalogue")).toContainText("mistral-large-latest");

  // A favourite: no Save button anywhere.
  await page.getByTestId("add-model").selectOption("mistral-large-latest");
  await page.getByTestId("add-model-button").click();
  await expect(page.getByTestId("prefs-status")).toHaveText("Saved");
  await expect(page.getByRole("button", { name: "Save", exact: true })).toHaveCount(0);

  // The default model and the context (saved after a pause in typing).
  await page.getByTestId("default-model").selectOption("mistral-large-latest");
  await page.getByTestId("default-context").fill("Answer in French.");
  await expect.poll(async () => (await settings(page)).defaultContext).toBe("Answer in French.");
  await expect(page.getByTestId("prefs-status")).toHaveText("Saved");
  const s = await settings(page);
  expect(s.fastModels).toEqual(["mistral-large-latest"]);
  expect(s.defaultModel).toBe("mistral-large-latest");
  await noHorizontalOverflow(page);

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("fast-list")).toContainText("mistral-large-latest");
  await expect(page.getByTestId("default-context")).toHaveValue("Answer in French.");

  // The chat's model menu offers it.
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("model-picker").locator("option", { hasText: "mistral-large-latest" })).toHaveCount(1);
  await expect(page.getByTestId("model-picker")).toHaveValue("mistral-large-latest");
});

test("a key Mistral refuses is not saved unless you insist", async ({ page }, info) => {
  await signUp(page, "refused", info);
  await page.goto("/settings/models");
  await hydrated(page);
  // The e2e fake refuses keys starting with "invalid".
  await page.getByTestId("api-key-input").fill("invalid-e2e-key-4321");
  await page.getByTestId("api-key-save").click();
  await expect(page.getByTestId("settings-message")).toHaveText("This key was refused by Mistral — it was not saved");
  expect((await settings(page)).hasKey).toBe(false);
  await expect(page.getByText("No key yet.")).toBeVisible();
  await noHorizontalOverflow(page);

  await page.getByTestId("api-key-force").click();
  await expect(page.getByTestId("settings-message")).toHaveText("Key saved without checking it with Mistral.");
  await expect(page.getByText("ending in …4321")).toBeVisible();
  expect((await settings(page)).hasKey).toBe(true);

  // Using it: a sentence saying what to do, not a server error.
  await page.getByTestId("check-key").click();
  await expect(page.getByTestId("settings-message")).toHaveText("Mistral refused your API key — check it in Settings → Models");
});

test("deleting the account promises only what exists", async ({ page }, info) => {
  await signUp(page, "danger", info);
  await page.goto("/settings/account");
  await hydrated(page);
  const zone = page.locator(".danger-zone");
  await expect(zone).toContainText("threads, messages, shared links");
  await expect(zone).not.toContainText("files");
});

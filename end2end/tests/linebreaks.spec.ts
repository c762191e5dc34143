// A user's message keeps its line breaks: lines typed with Shift+Enter show
// as lines (a single newline is a <br> in user messages), live and after a
// reload; answers keep CommonMark's meaning of a single newline.
import { test, expect } from "@playwright/test";
import { hydrated, signUpWithKey } from "./helpers";

test("lines typed with Shift+Enter stay separate lines", async ({ page }, info) => {
  await signUpWithKey(page, "lines", info);
  await page.goto("/");
  await hydrated(page);
  const input = page.getByTestId("composer-input");
  await input.click();
  await input.pressSequentially("line one");
  await input.press("Shift+Enter");
  await input.pressSequentially("line two");
  await expect(input).toHaveValue("line one\nline two");
  await input.press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/);

  const question = page.locator("[data-testid='message'][data-role='user']").last().locator(".message-body");
  const check = async () => {
    await expect(question.locator("br")).toHaveCount(1);
    await expect(question.locator("p")).toHaveCount(1);
    expect(await question.locator("p").innerHTML()).toBe("line one<br>line two");
    // Two lines on screen: the second starts below the first.
    const lines = await question.evaluate((el) => {
      const range = document.createRange();
      range.selectNodeContents(el.querySelector("p")!);
      return new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top))).size;
    });
    expect(lines).toBe(2);
  };
  await check();
  // The answer (which echoes the question) is rendered as markdown answers
  // are: the newline is a space there.
  const answer = page.locator("[data-testid='message'][data-role='assistant']").last().locator(".message-body");
  await expect(answer).toContainText("That is all from the fake Mistral.");
  await expect(answer.locator("br")).toHaveCount(0);

  await page.reload();
  await hydrated(page);
  await check();
});

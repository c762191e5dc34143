// Files in chat (issue 15): attach by picker, drag and drop and paste; chips
// with upload progress and remove; the meter and what won't fit; the vision
// warning; a PDF and an image sent, shown on the message with what the model
// saw; thumbnails; "Extract text"; an over-limit file gets its sentence.
import { test, expect, Page } from "@playwright/test";
import { hydrated, uniqueEmail, shot, noHorizontalOverflow, trackCspViolations } from "./helpers";

const PASSWORD = "correct horse battery";

async function signUpWithKey(page: Page, tag: string, info: any) {
  const email = uniqueEmail(info, tag);
  expect((await page.request.post("/api/auth/email/register", { data: { email, password: PASSWORD } })).status()).toBe(201);
  expect((await page.request.put("/api/settings/key", { data: { apiKey: "sk-e2e-key-0001" } })).status()).toBe(200);
}

/** A small PDF with one text page per entry, laid out like testkit's
 * `pdf_with_pages` (the fake OCR reads each page's `Tj` strings back). */
function pdf(pages: string[]): Buffer {
  const esc = (t: string) => t.replace(/[\\()]/g, (c) => "\\" + c);
  const objects: string[] = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    `<< /Type /Pages /Kids [${pages.map((_, k) => `${4 + 2 * k} 0 R`).join(" ")}] /Count ${pages.length} >>`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
  ];
  pages.forEach((text, k) => {
    objects.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * k} 0 R >>`,
    );
    const content = `BT /F1 12 Tf 14 TL 72 720 Td (${esc(text)}) Tj ET`;
    objects.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  });
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

/** A real 64×48 PNG, as the fake Mistral serves generated images. */
async function png(page: Page): Promise<Buffer> {
  const port = Number(new URL(page.url()).port) + 800;
  const r = await page.request.get(`http://127.0.0.1:${port}/v1/files/e2e-picture/content`, {
    headers: { Authorization: "Bearer sk-e2e-key-0001" },
  });
  expect(r.status()).toBe(200);
  return Buffer.from(await r.body());
}

function lastUserMessage(page: Page) {
  return page.locator("[data-testid='message'][data-role='user']").last();
}

test("attach by picker: progress, meter, send a PDF and an image, what the model saw, thumbnail, Extract text", async ({ page }, info) => {
  const violations = await trackCspViolations(page);
  await signUpWithKey(page, "files", info);
  await page.goto("/");
  await hydrated(page);
  const picture = await png(page);
  // Hold the uploads a moment so their progress can be seen.
  await page.route("**/api/files", async (route) => {
    await new Promise((r) => setTimeout(r, 700));
    await route.continue();
  });
  await expect(page.getByTestId("attach")).toBeVisible();
  await page.getByTestId("attach-input").setInputFiles([
    { name: "report.pdf", mimeType: "application/pdf", buffer: pdf(["Alpha bravo", "Charlie delta", "Echo foxtrot"]) },
    { name: "sign.png", mimeType: "image/png", buffer: picture },
  ]);
  const chips = page.getByTestId("attachment-chip");
  await expect(chips).toHaveCount(2);
  await expect(page.getByTestId("upload-progress").first()).toBeVisible();
  await expect(page.getByTestId("send")).toBeDisabled();
  await expect(chips.nth(0)).toHaveAttribute("data-state", "ready", { timeout: 15_000 });
  await expect(chips.nth(1)).toHaveAttribute("data-state", "ready");
  await expect(page.getByTestId("upload-progress")).toHaveCount(0);
  await expect(chips.nth(0).getByTestId("chip-name")).toHaveText("report.pdf");
  await expect(chips.nth(0).getByTestId("chip-tokens")).toContainText("tokens");
  await expect(chips.nth(1).getByTestId("chip-thumb")).toBeVisible();
  await noHorizontalOverflow(page);
  await shot(page, info, "files-chips");

  await page.getByTestId("composer-input").fill("Summarise page 2");
  await page.getByTestId("composer-input").press("Enter");
  await expect(page).toHaveURL(/\/t\/[0-9a-f-]{36}$/, { timeout: 20_000 });
  await expect(chips).toHaveCount(0);
  const question = lastUserMessage(page);
  const files = question.getByTestId("attachment");
  await expect(files).toHaveCount(2);
  await expect(files.nth(0).getByTestId("attachment-seen")).toHaveText("Model saw: all 3 pages");
  await expect(files.nth(1).getByTestId("attachment-seen")).toHaveText("Model saw: the image");
  // The fake echoes what it received: the pages, marked.
  const answer = page.locator("[data-testid='message'][data-role='assistant']").last();
  await expect(answer).toContainText("Charlie delta", { timeout: 20_000 });
  await expect(answer).toContainText("Page 2");

  // The thumbnail opens the image full size.
  const thumb = files.nth(1).getByTestId("attachment-image");
  await expect(thumb).toBeVisible();
  const href = await files.nth(1).locator("a:has([data-testid='attachment-image'])").getAttribute("href");
  expect(href).toMatch(/^\/api\/files\/[0-9a-f-]+$/);
  const full = await page.request.get(href!);
  expect(full.status()).toBe(200);
  expect(full.headers()["content-type"]).toBe("image/png");

  // Extract text shows what OCR read, as text.
  await files.nth(0).getByTestId("extract-text").click();
  const dialog = page.getByTestId("extract-dialog");
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId("extract-output")).toContainText("Charlie delta", { timeout: 20_000 });
  await expect(dialog.getByTestId("extract-output")).toContainText("--- Page 3 ---");
  const download = page.waitForEvent("download");
  await dialog.getByTestId("extract-download").click();
  expect((await download).suggestedFilename()).toBe("report.pdf.md");
  await shot(page, info, "files-extract");
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(dialog).toBeHidden();

  // After a reload the message still shows its files.
  await page.reload();
  await hydrated(page);
  await expect(lastUserMessage(page).getByTestId("attachment")).toHaveCount(2);
  await expect(lastUserMessage(page).getByTestId("attachment-seen").first()).toHaveText("Model saw: all 3 pages");
  await noHorizontalOverflow(page);
  await shot(page, info, "files-message");

  // Settings → Account says what the files take.
  await page.goto("/settings/account");
  await hydrated(page);
  await expect(page.getByTestId("storage-used")).toContainText(/\d+ KB of 1024 MB used by your files/);
  expect(violations).toEqual([]);
});

test("drop and paste attach, remove a chip, over-limit sentence, a document too big, a model without vision", async ({ page }, info) => {
  await signUpWithKey(page, "files2", info);
  expect((await page.request.put("/api/settings", { data: { defaultModel: "open-mistral-7b" } })).status()).toBe(200);
  await page.goto("/");
  await hydrated(page);
  const picture = await png(page);
  const chips = page.getByTestId("attachment-chip");

  // Drag and drop onto the composer.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["dropped notes\n"], "dropped.txt", { type: "text/plain" }));
    const target = document.querySelector("[data-testid='composer']")!;
    for (const type of ["dragenter", "dragover", "drop"]) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  });
  await expect(chips).toHaveCount(1);
  await expect(chips.nth(0).getByTestId("chip-name")).toHaveText("dropped.txt");
  // Paste into the text box.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["pasted words\n"], "pasted.txt", { type: "text/plain" }));
    const box = document.querySelector("[data-testid='composer-input']")!;
    box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  await expect(chips).toHaveCount(2);
  await expect(chips.nth(1)).toHaveAttribute("data-state", "ready", { timeout: 15_000 });
  // Touch targets stay at least 44×44 px on touch screens.
  if (info.project.use.hasTouch) {
    for (const control of [page.getByTestId("attach"), page.getByRole("button", { name: "Remove pasted.txt" })]) {
      const box = (await control.boundingBox())!;
      expect(box.width).toBeGreaterThanOrEqual(44);
      expect(box.height).toBeGreaterThanOrEqual(44);
    }
  }
  // Remove a chip: it goes, and so does the upload.
  const removed = page.waitForRequest((r) => r.method() === "DELETE" && r.url().includes("/api/files/"));
  await page.getByRole("button", { name: "Remove dropped.txt" }).click();
  await removed;
  await expect(chips).toHaveCount(1);
  await expect(chips.nth(0).getByTestId("chip-name")).toHaveText("pasted.txt");

  // Over the limit per file: the sentence, no upload.
  await page.getByTestId("attach-input").setInputFiles([
    { name: "huge.txt", mimeType: "text/plain", buffer: Buffer.alloc(21 * 1024 * 1024, 97) },
  ]);
  const huge = chips.filter({ hasText: "huge.txt" });
  await expect(huge.getByTestId("chip-error")).toContainText("larger than the 20 MB limit");
  await page.getByRole("button", { name: "Remove huge.txt" }).click();

  // A 40-page document does not fit open-mistral-7b's context: the meter says which pages go.
  const pages = Array.from({ length: 40 }, (_, i) => `Page${i + 1} ` + "lorem ipsum ".repeat(250));
  await page.getByTestId("attach-input").setInputFiles([{ name: "book.pdf", mimeType: "application/pdf", buffer: pdf(pages) }]);
  const book = chips.filter({ hasText: "book.pdf" });
  await expect(book.getByTestId("chip-fit")).toContainText(/pages \d+–40 won't fit in open-mistral-7b's context — the model will see pages 1–\d+/, { timeout: 20_000 });
  await shot(page, info, "files-meter");

  // An image for a model without vision: a warning with a way out.
  await page.getByTestId("attach-input").setInputFiles([{ name: "sign.png", mimeType: "image/png", buffer: picture }]);
  const warning = page.getByTestId("vision-warning");
  await expect(warning).toContainText("open-mistral-7b can't see images.");
  await expect(warning.getByTestId("vision-as-text")).toBeVisible();
  await noHorizontalOverflow(page);
  await warning.getByTestId("vision-switch").click();
  await expect(warning).toHaveCount(0);
  await expect(page.getByTestId("model-picker")).not.toHaveValue("open-mistral-7b");
});

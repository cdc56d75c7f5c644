// My attachments (DESIGN §15) in Chromium against the local stack: a chat user whom no account
// manages, signed in by the chat service (infra/local/tools/chat_service.py plays it), requests
// their own files, watches the export end, downloads the manifest (its rows are exactly theirs),
// revokes its links (which then stop) and sees the 7-day rule; the token leaves the address bar
// and history at once; no link is ever shown. Who may NOT: a Team member gets the Team's guidance and no request; a link naming another
// user than its token gets Access denied; a chat user reaches no administrator's page; a forged
// or expired link signs no one in. axe, the keyboard and 360 px on every screen.
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { chatLink, expectAccessible, expectNoLinksInPage, seed } from "./helpers";

/** The url column of a manifest row (CSV; the url holds no comma or quote). */
function firstUrl(header: string, row: string): string {
  const column = header.split(",").indexOf("url");
  expect(column).toBeGreaterThanOrEqual(0);
  const cells = row.match(/("([^"]|"")*"|[^,]*)(,|$)/g) ?? [];
  return (cells[column] ?? "").replace(/,$/, "").replace(/^"|"$/g, "");
}

async function openFromChat(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.getByRole("heading", { level: 1, name: "My attachments" })).toBeVisible();
}

/** The token is not in the address bar: the hand-over's address was replaced at once. */
async function expectTokenGone(page: Page): Promise<void> {
  await expect(page).toHaveURL(/#\/my-attachments$/);
  expect(page.url()).not.toContain("token=");
}

/** Back through every history entry of the tab: none holds a token (ends on the first page). */
async function expectNoTokenInHistory(page: Page): Promise<void> {
  const entries = await page.evaluate(() => history.length);
  for (let i = 1; i < entries; i++) {
    await page.goBack();
    expect(page.url()).not.toContain("token=");
  }
}

test("a chat user requests, watches and downloads their own attachments; the token leaves the address at once", async ({ page }, testInfo) => {
  const seeded = seed();
  const user = seeded.selfService.userId;
  const link = chatLink(user);
  const token = new URLSearchParams(link.split("?")[1]).get("token") ?? "";
  expect(token.split(".")).toHaveLength(3);
  await openFromChat(page, link);
  await expectTokenGone(page);
  // The console forgot the token: it is nowhere in the page.
  expect(await page.content()).not.toContain(token);
  await expect(page.getByRole("navigation", { name: "Session" })).toContainText("Signed in from the chat");
  await expect(page.getByText("You have not requested your attachments yet.")).toBeVisible();
  await expectAccessible(page, testInfo, "my-attachments");

  // By keyboard: the format, then the request.
  const csv = page.getByRole("radio", { name: /CSV/ });
  await expect(csv).toBeChecked();
  const request = page.getByRole("button", { name: "Request my attachments" });
  await request.focus();
  await page.keyboard.press("Enter");
  const card = page.locator(".export-card").first();
  await expect(card).toContainText(/Queued|Running|Succeeded/);
  // The 7-day rule: no second request, and the page says when.
  await expect(page.locator("#request-refusal")).toContainText("One request is accepted every 7 days: the next is possible from");
  await expect(request).toHaveCount(0);

  await expect(card).toContainText("Succeeded", { timeout: 90_000 });
  await expect(card).toContainText(`Files${seeded.selfService.expectedInExport}`);
  await expect(card).toContainText("Links work until");
  await expectAccessible(page, testInfo, "my-attachments-delivered");
  await expectNoLinksInPage(page);

  const download = page.waitForEvent("download");
  await card.getByRole("button", { name: "Download file" }).click();
  const file = await download;
  const path = await file.path();
  expect(path).toBeTruthy();
  const [header, ...rows] = readFileSync(path as string, "utf8").trim().split("\n");
  expect(header).toContain("in_scope_because");
  expect(rows.length).toBe(seeded.selfService.expectedInExport);
  await expect(page.getByRole("status").filter({ hasText: "Your download has started" })).toBeVisible();
  await expectNoLinksInPage(page);

  // The manifest went astray: they revoke its links (Cancel has the focus; Escape closes).
  const url = firstUrl(header ?? "", rows[0] ?? "");
  expect((await fetch(url)).status).toBe(200);
  await card.getByRole("button", { name: "Revoke links" }).click();
  const dialog = page.getByRole("alertdialog");
  await expect(dialog).toContainText("the link the Assistant sent you");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await expectAccessible(page, testInfo, "my-attachments-revoke-dialog");
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await card.getByRole("button", { name: "Revoke links" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Revoke links" }).click();
  await expect(card).toContainText("Revoked");
  await expect(card).toContainText("Links revoked");
  await expect(card.getByRole("button", { name: "Download file" })).toHaveCount(0);
  // Refused by the download function (410, once its record cache sees REVOKED) or, until then, by
  // S3 (the file is deleted): either way the link no longer fetches the file.
  expect([403, 404, 410]).toContain((await fetch(url)).status);

  // Nothing of the administrators' console is theirs.
  await page.evaluate((account) => {
    location.hash = `#/accounts/${account}`;
  }, seeded.accountId);
  await expect(page).toHaveURL(/#\/my-attachments$/);
  await expect(page.getByRole("heading", { level: 1, name: "My attachments" })).toBeVisible();

  // Sign out forgets the credentials and sends them back to the chat, with no sign-in form.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("alert")).toContainText("You have signed out of My attachments.");
  await expect(page.getByLabel("User name")).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole("alert")).toContainText("Open My attachments from the chat again");
});

test("a Team member is told to ask the Team's administrator, and can request nothing", async ({ page }, testInfo) => {
  const seeded = seed();
  await openFromChat(page, chatLink(seeded.selfService.teamMemberId));
  await expect(page.locator("#request-refusal")).toContainText("Ask the Team's administrator to remove you from the Team first");
  await expect(page.getByRole("button", { name: "Request my attachments" })).toHaveCount(0);
  await expectAccessible(page, testInfo, "my-attachments-team-member");
});

test("a link naming another user than its token, a forged token and an expired one sign no one in", async ({ page }) => {
  const seeded = seed();
  const mine = chatLink(seeded.selfService.userId);
  // The address says another user: IAM holds the credentials to the token's chatUserId.
  const swapped = mine.replace(`user=${seeded.selfService.userId}`, `user=${seeded.selfService.teamMemberId}`);
  await openFromChat(page, swapped);
  await expect(page.getByRole("alert")).toContainText("Access denied: you can see attachment exports only for yourself");
  await expect(page.getByRole("button", { name: "Request my attachments" })).toHaveCount(0);

  await page.goto("/#/my-attachments/sign-in?user=00000000-0000-4000-8000-000000000000&token=abc.def.ghi");
  await expect(page.getByRole("alert")).toContainText("This sign-in link is not valid.");
  await expectTokenGone(page);

  const late = chatLink(seeded.selfService.userId, 1);
  await page.waitForTimeout(2100);
  await openFromChat(page, late);
  await expect(page.getByRole("alert")).toContainText("This sign-in link has expired or is not valid.");
  await expect(page.getByRole("navigation", { name: "Session" })).toHaveCount(0);
  await expectNoTokenInHistory(page);
});

test("works at 360 px wide", async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 360, height: 740 });
  const seeded = seed();
  await openFromChat(page, chatLink(seeded.selfService.userId));
  await expect(page.getByRole("button", { name: "Request my attachments" })).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await expectAccessible(page, testInfo, "my-attachments-360");
});

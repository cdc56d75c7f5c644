// `make screenshots`: saves a PNG of each screen to docs/console/ at a fixed viewport, against the
// running local stack. Tagged @screenshots, so the ordinary test run leaves it out
// (playwright.config.ts); run with SCREENSHOTS=1 ... --grep @screenshots.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { ROOT, chatLink, createUser, openAccountActions, putExport, requireMfa, restoreMfa, seed, signIn, signInToAccount } from "./helpers";

const OUT = resolve(ROOT, "docs/console");
const BOTH = ["StartDataExport", "RetrieveDataExport"];

test.use({ viewport: { width: 1100, height: 820 }, deviceScaleFactor: 1, colorScheme: "light", locale: "en-GB", timezoneId: "Europe/Berlin" });

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  // Steady pictures: no caret, no running animation.
  await page.screenshot({ path: resolve(OUT, `${name}.png`), fullPage, caret: "hide", animations: "disabled" });
}

test("screenshots of every screen @screenshots", async ({ page, browser }) => {
  test.setTimeout(300_000);
  mkdirSync(OUT, { recursive: true });
  const { accountId, teamAccountId } = seed();
  const admin = createUser(accountId, BOTH);

  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await shot(page, "01-sign-in");

  const fresh = createUser(accountId, BOTH, { temporary: true, prefix: "new" });
  await signIn(page, fresh);
  await expect(page.getByRole("heading", { level: 1, name: "Choose a new password" })).toBeVisible();
  await shot(page, "02-new-password");
  await page.goto("about:blank");

  await signInToAccount(page, admin);
  await page.locator("h1").blur();
  await shot(page, "03-account");
  await openAccountActions(page);
  await shot(page, "04-account-actions", false);
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Request attachments" });
  await expect(dialog).toBeVisible();
  await shot(page, "05-request-dialog", false);

  const posted = page.waitForResponse((r) => r.request().method() === "POST");
  await dialog.getByRole("button", { name: "Confirm request" }).click();
  const reply = (await (await posted).json()) as { exportId: string };
  await page.locator(`#export-link-${reply.exportId}`).click();
  await expect(page.locator("#export-status")).toBeVisible();
  await shot(page, "06-export-in-progress");
  await expect(page.locator("#export-status")).toHaveText("Succeeded", { timeout: 180_000 });
  await shot(page, "07-export-succeeded");
  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download file" }).click();
  await downloading;
  await expect(page.locator("#manifest-sha256")).toBeVisible();
  await shot(page, "08-export-downloaded");
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link").click();
  await expect(page.locator(".reason")).toBeVisible();
  await shot(page, "09-history-and-7-day-window");

  const other = seed();
  const failed = putExport(other.accountId, "FAILED");
  const expired = putExport(other.accountId, "EXPIRED");
  const otherAdmin = createUser(other.accountId, BOTH, { prefix: "other" });
  const page2 = await (await browser.newContext({ viewport: { width: 1100, height: 820 }, locale: "en-GB", timezoneId: "Europe/Berlin" })).newPage();
  await signInToAccount(page2, otherAdmin);
  await page2.locator(`#export-link-${failed.exportId}`).click();
  await expect(page2.getByRole("heading", { level: 2, name: "The export failed" })).toBeVisible();
  await shot(page2, "10-export-failed");
  await page2.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link").click();
  await page2.locator(`#export-link-${expired.exportId}`).click();
  await expect(page2.getByRole("heading", { level: 2, name: "The export has expired" })).toBeVisible();
  await shot(page2, "11-export-expired");
  await page2.evaluate((id) => {
    location.hash = `#/accounts/${id}`;
  }, accountId);
  await expect(page2.getByRole("heading", { level: 1, name: "Access denied" })).toBeVisible();
  await shot(page2, "12-another-account-refused");

  const teamAdmin = createUser(teamAccountId, BOTH, { prefix: "team" });
  const page3 = await (await browser.newContext({ viewport: { width: 1100, height: 820 }, locale: "en-GB", timezoneId: "Europe/Berlin" })).newPage();
  await signInToAccount(page3, teamAdmin);
  await expect(page3.locator(".reason")).toBeVisible();
  await shot(page3, "13-team-account");

  const page4 = await (await browser.newContext({ viewport: { width: 360, height: 740 }, locale: "en-GB", timezoneId: "Europe/Berlin" })).newPage();
  await signInToAccount(page4, admin);
  await shot(page4, "14-account-360px");

  await page4.close();
  await page.getByRole("link", { name: "Sign-in security" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "Two-step sign-in: off" })).toBeVisible();
  await page.locator("h1").blur();
  await shot(page, "16-sign-in-security");

  // A pool that requires MFA (docs/DEPLOY.md "Requiring MFA"): the enrolment step. Put back after.
  const previous = requireMfa();
  try {
    const enrolling = createUser(accountId, BOTH, { prefix: "enrol" });
    const page5 = await (await browser.newContext({ viewport: { width: 1100, height: 820 }, locale: "en-GB", timezoneId: "Europe/Berlin" })).newPage();
    await signIn(page5, enrolling);
    await expect(page5.locator("code#totp-secret")).toBeVisible();
    await page5.locator("h1").blur();
    await shot(page5, "15-mfa-setup");
  } finally {
    restoreMfa(previous);
  }
});

test("screenshots of My attachments @screenshots", async ({ page }) => {
  test.setTimeout(180_000);
  mkdirSync(OUT, { recursive: true });
  const { selfService } = seed();
  await page.goto(chatLink(selfService.userId));
  await page.getByRole("button", { name: "Request my attachments" }).click();
  await expect(page.locator(".export-card").first()).toContainText("Succeeded", { timeout: 90_000 });
  await page.locator("h1").blur();
  await shot(page, "17-my-attachments");
  await page.goto(chatLink(selfService.teamMemberId));
  await expect(page.locator("#request-refusal")).toBeVisible();
  await page.locator("h1").blur();
  await shot(page, "18-my-attachments-team-member");
});

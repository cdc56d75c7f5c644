// `make demo`'s browser step (scripts/demo.sh, step 9): the console against what the demo made, in
// Debian's Chromium. Tagged @demo, so the ordinary test run leaves it out (playwright.config.ts);
// scripts/demo.sh runs it with `console/run-tests.sh --grep @demo` and these variables:
//   DEMO_EXPORT_USERNAME, DEMO_EXPORT_PASSWORD  other-admin, an administrator of the walkthrough's account
//   DEMO_EXPORT_ACCOUNT_ID, DEMO_EXPORT_ID      the walkthrough's account and the export its CLI requested
//   DEMO_MANIFEST_SHA256                        the SHA-256 of the manifest the CLI fetched and verified
//   DEMO_CONSOLE_USERNAME, DEMO_CONSOLE_PASSWORD, DEMO_CONSOLE_ACCOUNT_ID
//                                               demo-admin and the console's account (no export yet)
// It downloads the walkthrough's manifest, and only looks at the console's account: Request
// attachments must be offered, but it is not confirmed, so the newcomer's 7-day window stays open.
import { expect, test } from "@playwright/test";
import { expectNoLinksInPage, openAccountActions, sha256File, signIn, signInToAccount } from "./helpers";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: this test is a step of make demo (scripts/demo.sh), which sets it`);
  return value;
}

test("the demo's export downloads in the console; the console's account offers Request attachments @demo", async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const accountId = env("DEMO_EXPORT_ACCOUNT_ID");
  const exportId = env("DEMO_EXPORT_ID");
  const expected = env("DEMO_MANIFEST_SHA256");

  await test.step("other-admin downloads the walkthrough's manifest", async () => {
    // The export's own address, as a link someone was sent: the console asks to sign in first.
    await signIn(page, { username: env("DEMO_EXPORT_USERNAME"), password: env("DEMO_EXPORT_PASSWORD") }, `/#/accounts/${accountId}/exports/${exportId}`);
    await expect(page).toHaveURL(new RegExp(`#/accounts/${accountId}/exports/${exportId}$`));
    await expect(page.locator("#export-status")).toHaveText("Succeeded");
    const downloading = page.waitForEvent("download");
    await page.getByRole("button", { name: "Download file" }).click();
    const saved = testInfo.outputPath("manifest.csv");
    await (await downloading).saveAs(saved);
    expect(sha256File(saved), "the saved file's SHA-256 is the one the CLI verified").toBe(expected);
    await expect(page.locator("#manifest-sha256")).toHaveText(expected);
    await expectNoLinksInPage(page);
  });

  await test.step("demo-admin is offered Request attachments (not confirmed)", async () => {
    await page.goto("about:blank"); // tokens live in memory only: a new load signs in again
    await signInToAccount(page, {
      username: env("DEMO_CONSOLE_USERNAME"),
      password: env("DEMO_CONSOLE_PASSWORD"),
      accountId: env("DEMO_CONSOLE_ACCOUNT_ID"),
      groups: ["StartDataExport", "RetrieveDataExport"],
    });
    await expect(page.getByText("No exports yet.")).toBeVisible();
    const item = await openAccountActions(page);
    await expect(item).not.toHaveAttribute("aria-disabled", "true");
    await page.keyboard.press("Escape");
    await expect(page.getByRole("dialog")).toHaveCount(0);
  });
});

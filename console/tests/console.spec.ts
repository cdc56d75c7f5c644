// The console in a real browser (Debian's Chromium) against the local stack. Each test seeds its
// own accounts and console users, so the tests are independent of each other and of order.
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { expect, test, type Page } from "@playwright/test";
import {
  ROOT,
  createUser,
  enableTotp,
  expectAccessible,
  expectNoLinksInPage,
  openAccountActions,
  putExport,
  requireMfa,
  disableUser,
  restoreClient,
  restoreMfa,
  seed,
  sha256File,
  signIn,
  signInToAccount,
  totpCode,
  tokenLifetime,
  totpFor,
  tryRefresh,
  utcText,
} from "./helpers";

const BOTH = ["StartDataExport", "RetrieveDataExport"];

/** Collects CSP violations and page errors: there must be none. */
function watchErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to|Trusted Type/i.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

function startWithCli(accountId: string): { exportId: string; nextAllowedAt: string } {
  const out = execFileSync(`${ROOT}/target/debug/attachment-export`, ["start", "--account-id", accountId, "--json"], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out) as { exportId: string; nextAllowedAt: string };
}

test("the whole flow: sign in, Account actions, Request attachments, progress, succeeded, Download file, history", async ({ page }, testInfo) => {
  test.setTimeout(240_000);
  const problems = watchErrors(page);
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH);

  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await expectAccessible(page, testInfo, "sign-in");

  // A wrong password is refused in words.
  await page.getByLabel("User name").fill(admin.username);
  await page.getByLabel("Password", { exact: true }).fill(`${admin.password}-wrong`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("The user name or password is not correct.");

  await page.getByLabel("Password", { exact: true }).fill(admin.password);
  await page.getByLabel("Password", { exact: true }).press("Enter");
  await expect(page).toHaveURL(new RegExp(`#/accounts/${accountId}$`));
  await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
  await expect(page.locator("dl.details")).toContainText("Enterprise");
  await expect(page.locator("dl.details")).toContainText(accountId);
  await expect(page.getByText("No exports yet.")).toBeVisible();
  await expectAccessible(page, testInfo, "account");

  // Account actions: a real menu button, keyboard first.
  const actions = page.getByRole("button", { name: "Account actions" });
  await expect(actions).toHaveAttribute("aria-haspopup", "menu");
  const item = await openAccountActions(page);
  await expect(item).not.toHaveAttribute("aria-disabled", "true");
  await expectAccessible(page, testInfo, "account-actions-menu");
  await page.keyboard.press("ArrowDown");
  await expect(page.getByRole("menuitem", { name: "Refresh" })).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(item).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(actions).toBeFocused();
  await expect(actions).toHaveAttribute("aria-expanded", "false");
  await openAccountActions(page);
  await page.keyboard.press("Enter");

  const dialog = page.getByRole("dialog", { name: "Request attachments" });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText("uploaded to 1:1 and group conversations");
  await expect(dialog).toContainText("every file in the rooms they created, up to now");
  await expect(dialog).toContainText("work for 6 days");
  await expect(dialog).toContainText("One request is accepted every 7 days");
  await expect(dialog).toContainText("Anyone who gets the file can download every attachment");
  await expect(dialog.getByLabel("CSV (opens in a spreadsheet)")).toBeChecked();
  await expect(dialog.getByLabel("JSON Lines (one JSON object per line, for scripts)")).not.toBeChecked();
  await expectAccessible(page, testInfo, "request-dialog");

  const posted = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith(`/accounts/${accountId}/data-exports`));
  await dialog.getByRole("button", { name: "Confirm request" }).click();
  const post = await posted;
  expect(post.status()).toBe(202);
  const reply = (await post.json()) as { exportId: string; nextAllowedAt: string };
  await expect(dialog).toBeHidden();

  // The new export appears at once, on top of the history.
  const link = page.locator(`#export-link-${reply.exportId}`);
  await expect(link).toBeVisible({ timeout: 5_000 });
  await expect(page.locator(".export-card").first()).toHaveAttribute("data-export-id", reply.exportId);
  await expect(page.locator("p.success")).toContainText("Export requested.");
  await link.click();
  await expect(page).toHaveURL(new RegExp(`/exports/${reply.exportId}$`));

  const status = page.locator("#export-status");
  await expect(status).toHaveText(/Queued|Running|Succeeded/);
  const early = (await status.textContent()) ?? "";
  if (/Queued|Running/.test(early)) {
    await expect(page.getByRole("heading", { level: 2, name: "Progress" })).toBeVisible();
    await expect(page.locator(".progress")).toHaveText(/listed|Queued/);
    await expect(page.locator(".progress")).toHaveAttribute("aria-live", "polite");
    await expect(page.getByText(/^Elapsed: /)).toBeVisible();
    await expectAccessible(page, testInfo, "export-progress");
  }
  testInfo.annotations.push({ type: "first status seen", description: early });
  await expect(status).toHaveText("Succeeded", { timeout: 180_000 });

  await expect(page.getByRole("table", { name: "Attachments by conversation type" })).toBeVisible();
  await expect(page.getByText(/The download links in the file work until .* UTC\) \(.* left\)\./)).toBeVisible();
  await expect(page.getByText("The file has not been retrieved yet.")).toBeVisible();
  // The requester is named as a person (resolved by the export service), the role session as the detail.
  const requester = page.locator("dd details.who").first();
  await expect(requester.locator("summary")).toHaveText(/^Jane Doe \(.+@example\.com\)$/);
  await expect(requester.locator(".principal")).toBeHidden();
  await requester.locator("summary").click();
  await expect(requester.locator(".principal")).toContainText("assumed-role/ConsoleStartRole");
  await expectAccessible(page, testInfo, "export-succeeded");

  // Download file: the only counted call; the saved file's SHA-256 is the API's.
  const got = page.waitForResponse((r) => r.request().method() === "GET" && r.url().endsWith(`/data-exports/${reply.exportId}`));
  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download file" }).click();
  const api = (await (await got).json()) as { manifest: { sha256: string; bytes: number }; retrievals: number };
  const download = await downloading;
  const saved = testInfo.outputPath("manifest.csv");
  await download.saveAs(saved);
  expect(sha256File(saved)).toBe(api.manifest.sha256);
  expect(statSync(saved).size).toBe(api.manifest.bytes);
  await expect(page.locator("#manifest-sha256")).toHaveText(api.manifest.sha256);
  await expect(page.getByText("The file has been retrieved 1 time.")).toBeVisible();
  // The hand-out is kept and listed, naming who it went to.
  const handouts = page.getByRole("list", { name: "Hand-outs of the download links" });
  await expect(handouts.getByRole("listitem")).toHaveCount(1);
  await expect(handouts.getByRole("listitem").first()).toContainText("Jane Doe (");
  await expectNoLinksInPage(page);
  await expectAccessible(page, testInfo, "export-downloaded");

  // History: back on the account page, newest first; a second request is not offered.
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link").click();
  await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
  const first = page.locator(".export-card").first();
  await expect(first).toHaveAttribute("data-export-id", reply.exportId);
  await expect(first).toContainText("Succeeded");
  const again = await openAccountActions(page);
  await expect(again).toHaveAttribute("aria-disabled", "true");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await page.keyboard.press("Escape");
  await expect(page.locator(".reason")).toContainText("One request is accepted every 7 days");
  await expect(page.locator(".reason")).toContainText(utcText(reply.nextAllowedAt));
  expect(problems).toEqual([]);
});

test("the other account's administrator can neither see nor act on this account (403)", async ({ page }, testInfo) => {
  const problems = watchErrors(page);
  const mine = seed();
  const theirs = seed();
  const started = startWithCli(mine.accountId);
  const other = createUser(theirs.accountId, BOTH, { prefix: "other" });
  await signInToAccount(page, other);

  const refused = page.waitForResponse((r) => r.url().includes(`/accounts/${mine.accountId}/data-exports`));
  await page.evaluate((id) => {
    location.hash = `#/accounts/${id}`;
  }, mine.accountId);
  expect((await refused).status()).toBe(403);
  await expect(page.getByRole("heading", { level: 1, name: "Access denied" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText(`You cannot see or act on account ${mine.accountId}`);
  await expect(page.getByRole("alert")).toContainText("403");
  await expect(page.getByRole("button", { name: "Account actions" })).toHaveCount(0);
  await expectAccessible(page, testInfo, "refusal");

  const refusedExport = page.waitForResponse((r) => r.url().includes(`/accounts/${mine.accountId}/data-exports`));
  await page.evaluate(([id, exportId]) => {
    location.hash = `#/accounts/${id}/exports/${exportId}`;
  }, [mine.accountId, started.exportId] as const);
  expect((await refusedExport).status()).toBe(403);
  await expect(page.getByRole("heading", { level: 1, name: "Access denied" })).toBeVisible();
  await expect(page.getByText(started.exportId)).toHaveCount(0);

  // Their own account still works.
  await page.getByRole("link", { name: "Go to your account" }).click();
  await expect(page).toHaveURL(new RegExp(`#/accounts/${theirs.accountId}$`));
  await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
  expect(problems).toEqual([]);
});

test("a retrieve-only user has no enabled request action but can download", async ({ page }, testInfo) => {
  test.setTimeout(240_000);
  const { accountId } = seed();
  const started = startWithCli(accountId);
  const reader = createUser(accountId, ["RetrieveDataExport"], { prefix: "reader" });
  await signInToAccount(page, reader);

  const item = await openAccountActions(page);
  await expect(item).toHaveAttribute("aria-disabled", "true");
  await page.keyboard.press("Escape");
  await expect(page.locator(".reason")).toContainText("your sign-in does not include the StartDataExport permission", { ignoreCase: true });
  await expectAccessible(page, testInfo, "account-retrieve-only");

  await page.locator(`#export-link-${started.exportId}`).click();
  await expect(page.locator("#export-status")).toHaveText("Succeeded", { timeout: 180_000 });
  const got = page.waitForResponse((r) => r.request().method() === "GET" && r.url().endsWith(`/data-exports/${started.exportId}`));
  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download file" }).click();
  const api = (await (await got).json()) as { manifest: { sha256: string } };
  const saved = testInfo.outputPath("manifest.csv");
  await (await downloading).saveAs(saved);
  expect(sha256File(saved)).toBe(api.manifest.sha256);
  await expect(page.locator("#manifest-sha256")).toHaveText(api.manifest.sha256);
  await expectNoLinksInPage(page);
});

test("a Team account shows the guidance instead of the request", async ({ page }, testInfo) => {
  const { teamAccountId } = seed();
  const admin = createUser(teamAccountId, BOTH, { prefix: "team" });
  await signInToAccount(page, admin);
  await expect(page.locator("dl.details")).toContainText("Team");
  const item = await openAccountActions(page);
  await expect(item).toHaveAttribute("aria-disabled", "true");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await page.keyboard.press("Escape");
  const reason = page.locator(".reason");
  await expect(reason).toContainText("Team account");
  await expect(reason).toContainText("Enterprise");
  await expectAccessible(page, testInfo, "team-account");
});

test("a second request inside the window is refused with the next date (429)", async ({ browser }, testInfo) => {
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH);
  const first = await (await browser.newContext()).newPage();
  const second = await (await browser.newContext()).newPage();
  await signInToAccount(first, admin);
  await signInToAccount(second, admin);

  // Both open the dialog while the window is open; the first confirms.
  for (const page of [first, second]) {
    await openAccountActions(page);
    await page.keyboard.press("Enter");
    await expect(page.getByRole("dialog", { name: "Request attachments" })).toBeVisible();
  }
  const accepted = first.waitForResponse((r) => r.request().method() === "POST");
  await first.getByRole("button", { name: "Confirm request" }).click();
  const reply = (await (await accepted).json()) as { nextAllowedAt: string };

  const refused = second.waitForResponse((r) => r.request().method() === "POST");
  await second.getByRole("button", { name: "Confirm request" }).click();
  expect((await refused).status()).toBe(429);
  const alert = second.getByRole("dialog").getByRole("alert");
  await expect(alert).toContainText("One request is accepted every 7 days");
  await expect(alert).toContainText(utcText(reply.nextAllowedAt));
  await expect(second.getByRole("button", { name: "Confirm request" })).toBeDisabled();
  await expectAccessible(second, testInfo, "request-refused");
  await second.getByRole("button", { name: "Cancel" }).click();

  // After a refresh the menu says why, with the date in local time and UTC.
  await openAccountActions(second);
  await second.keyboard.press("End");
  await second.keyboard.press("Enter");
  const reason = second.locator(".reason");
  await expect(reason).toContainText(utcText(reply.nextAllowedAt));
  await expect(second.locator(".menu-item", { hasText: "Request attachments" })).toHaveAttribute("aria-disabled", "true");
});

test("a failed export and an expired one read as described", async ({ page }, testInfo) => {
  const { accountId } = seed();
  const failed = putExport(accountId, "FAILED");
  const expired = putExport(accountId, "EXPIRED");
  const admin = createUser(accountId, BOTH);
  await signInToAccount(page, admin);
  await expect(page.locator(`[data-export-id="${failed.exportId}"]`)).toContainText("Failed");
  await expect(page.locator(`[data-export-id="${expired.exportId}"]`)).toContainText("Expired");
  // Newest first.
  await expect(page.locator(".export-card").first()).toHaveAttribute("data-export-id", failed.exportId);

  await page.locator(`#export-link-${failed.exportId}`).click();
  await expect(page.getByRole("heading", { level: 2, name: "The export failed" })).toBeVisible();
  await expect(page.getByText(failed.message ?? "")).toBeVisible();
  await expect(page.getByText(/The 7-day window was given back: .* can request a new export now\./)).toBeVisible();
  await expect(page.getByRole("button", { name: "Download file" })).toHaveCount(0);
  await expectAccessible(page, testInfo, "export-failed");

  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link").click();
  await page.locator(`#export-link-${expired.exportId}`).click();
  await expect(page.getByRole("heading", { level: 2, name: "The export has expired" })).toBeVisible();
  await expect(page.getByText(`Its download links expired at`)).toContainText(utcText(expired.urlsExpireAt ?? ""));
  await expect(page.getByText("A new export can be requested now.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Download file" })).toHaveCount(0);
  await expectAccessible(page, testInfo, "export-expired");
});

test("sign-out leaves no credentials in any storage", async ({ page, context }) => {
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH);
  await signInToAccount(page, admin);
  const storage = () =>
    page.evaluate(async () => ({
      local: Object.keys(localStorage).length,
      session: Object.keys(sessionStorage).length,
      cookies: document.cookie,
      idb: (await indexedDB.databases()).map((d) => d.name),
      caches: typeof caches === "undefined" ? [] : await caches.keys(),
    }));
  // Nothing is ever written there: credentials live in memory only.
  expect(await storage()).toEqual({ local: 0, session: 0, cookies: "", idb: [], caches: [] });

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "You have signed out." })).toBeVisible();
  expect(await storage()).toEqual({ local: 0, session: 0, cookies: "", idb: [], caches: [] });
  expect(await context.cookies()).toEqual([]);
  const state = await context.storageState();
  expect(state.cookies).toEqual([]);
  expect(state.origins.flatMap((o) => o.localStorage)).toEqual([]);

  // The account cannot be reached again without signing in.
  await page.evaluate((id) => {
    location.hash = `#/accounts/${id}`;
  }, accountId);
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await page.goBack();
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
});

test("the first sign-in asks for a new password", async ({ page }, testInfo) => {
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH, { temporary: true, prefix: "new" });
  await signIn(page, admin);
  await expect(page.getByRole("heading", { level: 1, name: "Choose a new password" })).toBeVisible();
  await expectAccessible(page, testInfo, "new-password");
  const fresh = `Fresh-${Date.now()}-Passw0rd!`;
  await page.getByLabel("New password", { exact: true }).fill(fresh);
  await page.getByLabel("Repeat the new password").fill(`${fresh}x`);
  await page.getByRole("button", { name: "Set password and sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("not the same");
  await page.getByLabel("Repeat the new password").fill(fresh);
  await page.getByRole("button", { name: "Set password and sign in" }).click();
  await expect(page).toHaveURL(new RegExp(`#/accounts/${accountId}$`));
  await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();

  // The new password is the one that works now.
  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, { username: admin.username, password: fresh });
  await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
});

test("a user with TOTP MFA is asked for the code", async ({ page }, testInfo) => {
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH, { prefix: "mfa" });
  enableTotp(admin);
  await signIn(page, admin);
  await expect(page.getByRole("heading", { level: 1, name: "Enter your authentication code" })).toBeVisible();
  await expectAccessible(page, testInfo, "totp");
  await page.getByLabel("6-digit code").fill(totpCode());
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(new RegExp(`#/accounts/${accountId}$`));
  await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
});

test("a pool that requires MFA: a user without an authenticator enrols one at sign-in", async ({ page }, testInfo) => {
  const problems = watchErrors(page);
  const secrets: string[] = [];
  page.on("console", (msg) => secrets.push(msg.text()));
  await page.setViewportSize({ width: 360, height: 740 });
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH, { prefix: "enrol" });
  // The template's pool requires it (ConsoleMfa ON); the local stack provisions it OPTIONAL so the
  // other tests sign in without an authenticator, and this test switches it ON (docs/DEPLOY.md
  // "Requiring MFA"). Tests run one at a time: the pool is put back whatever happens here.
  const previous = requireMfa();
  try {
    await signIn(page, admin);
    const heading = page.getByRole("heading", { level: 1, name: "Set up your authenticator app" });
    await expect(heading).toBeVisible();
    await expect(heading).toBeFocused();
    const secretEl = page.locator("code#totp-secret");
    await expect(secretEl).toHaveText(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
    const secret = ((await secretEl.textContent()) ?? "").replace(/\s+/g, "");
    const link = page.getByLabel("Or, if your app accepts a setup link, copy this one");
    await expect(link).toHaveValue(
      new RegExp(`^otpauth://totp/attachment-export:${admin.username}\\?secret=${secret}&issuer=attachment-export$`, "i"),
    );
    await expectAccessible(page, testInfo, "mfa-setup");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);

    // A wrong code is refused in words; the step stays for another try.
    const right = await totpFor(secret);
    const wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, "0");
    const code = page.getByLabel("6-digit code");
    await code.fill(wrong);
    await page.getByRole("button", { name: "Verify and sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText("The code is not correct. Enter the current 6-digit code from your authenticator app.");
    await expect(code).toBeFocused();
    await expect(secretEl).toBeVisible();

    // The keyboard alone: type the right code, Enter.
    await code.fill(await totpFor(secret));
    await code.press("Enter");
    await expect(page).toHaveURL(new RegExp(`#/accounts/${accountId}$`));
    await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
    // The secret is gone from the page, and was never logged.
    expect(await page.content()).not.toContain(secret);
    expect(secrets.filter((t) => t.toUpperCase().includes(secret.toUpperCase()))).toEqual([]);

    // The next sign-in asks for a code of the enrolled authenticator (SOFTWARE_TOKEN_MFA).
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(page, admin);
    await expect(page.getByRole("heading", { level: 1, name: "Enter your authentication code" })).toBeVisible();
    await page.getByLabel("6-digit code").fill(await totpFor(secret));
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
    expect(problems).toEqual([]);
  } finally {
    restoreMfa(previous);
  }
});

test("works at 360 px wide", async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 360, height: 740 });
  const { accountId } = seed();
  const failed = putExport(accountId, "FAILED");
  const admin = createUser(accountId, BOTH);
  await signInToAccount(page, admin);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(await overflow()).toBeLessThanOrEqual(0);
  await expectAccessible(page, testInfo, "account-360");

  await openAccountActions(page);
  const menu = page.getByRole("menu");
  const box = await menu.boundingBox();
  expect(box && box.x + box.width).toBeLessThanOrEqual(360);
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Request attachments" });
  await expect(dialog).toBeVisible();
  const dbox = await dialog.boundingBox();
  expect(dbox && dbox.x >= 0 && dbox.x + dbox.width <= 360).toBe(true);
  await expectAccessible(page, testInfo, "request-dialog-360");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();

  await page.locator(`#export-link-${failed.exportId}`).click();
  await expect(page.getByRole("heading", { level: 2, name: "The export failed" })).toBeVisible();
  expect(await overflow()).toBeLessThanOrEqual(0);
});

test("the history pages through older exports, newest first", async ({ page }, testInfo) => {
  const { accountId } = seed();
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) ids.push(putExport(accountId, "FAILED", 24 * (i + 1)).exportId);
  const admin = createUser(accountId, BOTH);
  await signInToAccount(page, admin);
  const cards = page.locator(".export-card");
  await expect(cards).toHaveCount(10);
  await expect(cards.first()).toHaveAttribute("data-export-id", ids[0] ?? "");
  await page.getByRole("button", { name: "Older exports" }).click();
  await expect(cards).toHaveCount(2);
  await expect(cards.first()).toHaveAttribute("data-export-id", ids[10] ?? "");
  await expect(page.getByText("Page 2", { exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: "Older exports" })).toHaveCount(0);
  await expectAccessible(page, testInfo, "history-page-2");
  // An export beyond page 1 opens from its link (the page finds it by paging the list).
  await page.locator(`#export-link-${ids[11]}`).click();
  await expect(page.getByRole("heading", { level: 2, name: "The export failed" })).toBeVisible();
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link").click();
  await page.getByRole("button", { name: "Older exports" }).click();
  await page.getByRole("button", { name: "Newer exports" }).click();
  await expect(cards).toHaveCount(10);
  await expect(cards.first()).toHaveAttribute("data-export-id", ids[0] ?? "");
});

test.describe("sign-in", () => {
  test("uses SRP: the password never leaves the browser", async ({ page }) => {
    const { accountId } = seed();
    const admin = createUser(accountId, BOTH, { temporary: true, prefix: "srp" });
    const flows: string[] = [];
    page.on("request", (r) => {
      if (r.headers()["x-amz-target"]?.endsWith(".InitiateAuth")) flows.push(JSON.parse(r.postData() ?? "{}").AuthFlow);
      if (r.postData()?.includes(admin.password)) flows.push("password sent");
    });
    await signIn(page, admin);
    await expect(page.getByRole("heading", { level: 1, name: "Choose a new password" })).toBeVisible();
    const fresh = `Srp-${Date.now()}-Passw0rd!`;
    await page.getByLabel("New password", { exact: true }).fill(fresh);
    await page.getByLabel("Repeat the new password").fill(fresh);
    await page.getByRole("button", { name: "Set password and sign in" }).click();
    await expect(page).toHaveURL(new RegExp(`#/accounts/${accountId}$`));
    // The account page is the API's answer to a call signed with the identity pool's credentials.
    await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
    await expect(page.locator("dl.details")).toContainText("Enterprise");
    expect(flows).toEqual(["USER_SRP_AUTH"]);
  });
});

test("a request-only user can request but is told the history needs RetrieveDataExport", async ({ page }, testInfo) => {
  const { accountId } = seed();
  const requester = createUser(accountId, ["StartDataExport"], { prefix: "requester" });
  await signIn(page, requester);
  await expect(page).toHaveURL(new RegExp(`#/accounts/${accountId}$`));
  await expect(page.getByText("does not include the RetrieveDataExport permission")).toBeVisible();
  const item = await openAccountActions(page);
  await expect(item).not.toHaveAttribute("aria-disabled", "true");
  await page.keyboard.press("Enter");
  const posted = page.waitForResponse((r) => r.request().method() === "POST");
  await page.getByRole("button", { name: "Confirm request" }).click();
  expect((await posted).status()).toBe(202);
  await expect(page.locator("p.success")).toContainText("Export requested");
  await expectAccessible(page, testInfo, "account-request-only");
});

test("keyboard alone: sign in, the menu, the dialog, with visible focus", async ({ page }) => {
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH);
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  // The screen's heading has focus; the next Tab is the first field.
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("User name")).toBeFocused();
  await page.keyboard.type(admin.username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(admin.password);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
  // The page's heading takes focus on navigation; Tab goes on from there to Account actions.
  await expect(page.getByRole("heading", { level: 1 })).toBeFocused();
  const actions = page.getByRole("button", { name: "Account actions" });
  for (let i = 0; i < 5 && !(await actions.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press("Tab");
  await expect(actions).toBeFocused();
  const outline = await actions.evaluate((el) => getComputedStyle(el).outlineStyle + " " + getComputedStyle(el).outlineWidth);
  expect(outline).toMatch(/^solid [1-9]/);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("menuitem", { name: "Request attachments" })).toBeFocused();
  await page.keyboard.press("End");
  await expect(page.getByRole("menuitem", { name: "Refresh" })).toBeFocused();
  await page.keyboard.press("Home");
  await page.keyboard.press(" ");
  const dialog = page.getByRole("dialog", { name: "Request attachments" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel("CSV (opens in a spreadsheet)")).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(dialog.getByLabel("JSON Lines (one JSON object per line, for scripts)")).toBeChecked();
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Confirm request" })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(actions).toBeFocused();
});

test("API errors read in words: 404, 410, 500, no network", async ({ page }) => {
  const { accountId } = seed();
  const expiring = putExport(accountId, "EXPIRING", 1, 12);
  const admin = createUser(accountId, BOTH);
  await signInToAccount(page, admin);

  // 404: an export id this account does not have.
  await page.evaluate((id) => {
    location.hash = `#/accounts/${id}/exports/01ZZZZZZZZZZZZZZZZZZZZZZZZ`;
  }, accountId);
  await expect(page.getByRole("heading", { level: 1, name: "Not found" })).toBeVisible();

  // 410: delivered when the page was drawn, expired by the time Download file is pressed.
  await page.evaluate(([id, exportId]) => {
    location.hash = `#/accounts/${id}/exports/${exportId}`;
  }, [accountId, expiring.exportId] as const);
  await expect(page.locator("#export-status")).toHaveText("Succeeded");
  await page.waitForTimeout(Math.max(0, Date.parse(expiring.urlsExpireAt ?? "") - Date.now()) + 1000);
  const gone = page.waitForResponse((r) => r.url().endsWith(`/data-exports/${expiring.exportId}`));
  await page.getByRole("button", { name: "Download file" }).click();
  expect((await gone).status()).toBe(410);
  await expect(page.getByRole("alert")).toContainText(/^Expired: .*expired at/);
  await expect(page.getByRole("heading", { level: 2, name: "The export has expired" })).toBeVisible();

  // 500 and no network, as the browser would see them.
  await page.route(/\/data-exports(\?.*)?$/, (route) =>
    route.fulfill({ status: 500, contentType: "application/json", body: JSON.stringify({ code: "ServiceFailureException", message: "internal" }) }),
  );
  await page.evaluate((id) => {
    location.hash = `#/accounts/${id}`;
  }, accountId);
  await expect(page.getByRole("alert")).toContainText("The export service failed to answer");
  await page.unroute(/\/data-exports(\?.*)?$/);
  await page.route(/\/data-exports(\?.*)?$/, (route) => route.abort("connectionrefused"));
  await page.evaluate(() => {
    location.hash = "#/";
  });
  await expect(page.getByRole("alert")).toContainText("The export service could not be reached");
  await expectNoLinksInPage(page);
});

test("the page can connect only to its own API and Cognito, not to another server of the same host", async ({ page }) => {
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH);
  const reply = await page.goto("/");
  // The response-headers policy allows any API of the region (here: any loopback port), so the
  // page's own meta policy, pinned at deploy time to this stack's endpoints, is what refuses.
  const header = reply?.headers()["content-security-policy"] ?? "";
  expect(header).toMatch(/connect-src [^;]*http:\/\/127\.0\.0\.1:\*/);
  const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
  const env = readFileSync(resolve(ROOT, ".local/stack.env"), "utf8");
  const value = (name: string) => env.match(new RegExp(`^export ${name}=(\\S+)`, "m"))?.[1] ?? "";
  expect(meta).toBe(
    `connect-src 'self' ${value("API_URL")}/ ${value("COGNITO_IDP_ENDPOINT")} ${value("COGNITO_IDENTITY_ENDPOINT")}`,
  );
  await signInToAccount(page, admin);
  const outcome = await page.evaluate(async (target) => {
    const violations: string[] = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    let reached = false;
    try {
      await fetch(target, { credentials: "omit" });
      reached = true;
    } catch {
      // refused before any request leaves the page
    }
    await new Promise((r) => setTimeout(r, 100));
    return { reached, violations };
  }, `${value("AWS_ENDPOINT_URL_S3")}/`);
  expect(outcome.reached).toBe(false);
  expect(outcome.violations).toEqual([`connect-src ${value("AWS_ENDPOINT_URL_S3")}/`]);
  // The console itself still works under both policies.
  await expect(await openAccountActions(page)).toBeEnabled();
});

test("a session outlives its ID token by refreshing it, sign-out revokes the refresh token, and a disabled user's session ends", async ({ page }) => {
  test.setTimeout(180_000);
  const problems = watchErrors(page);
  // Cognito's shortest ID token (5 minutes), and the browser's clock moved on instead of waiting.
  const previous = tokenLifetime(5);
  try {
    const { accountId } = seed();
    const admin = createUser(accountId, BOTH);
    const refreshes: string[] = [];
    const refreshTokens: string[] = [];
    page.on("request", (request) => {
      if (request.headers()["x-amz-target"]?.endsWith(".InitiateAuth") && request.postData()?.includes("REFRESH_TOKEN_AUTH")) {
        refreshes.push(request.url());
      }
    });
    page.on("response", async (response) => {
      if (!response.request().headers()["x-amz-target"]?.endsWith("RespondToAuthChallenge")) return;
      const token = ((await response.json().catch(() => ({}))) as { AuthenticationResult?: { RefreshToken?: string } })
        .AuthenticationResult?.RefreshToken;
      if (token) refreshTokens.push(token);
    });
    await page.clock.install();
    await signInToAccount(page, admin);
    expect(refreshes).toHaveLength(0);

    // 3½ minutes on: the ID token has less than 2 minutes left, so the next call refreshes it first.
    await page.clock.fastForward("03:30");
    await page.getByRole("button", { name: "Account actions" }).click();
    await page.getByRole("menuitem", { name: "Refresh" }).click();
    await expect(page.locator("#announcer")).toHaveText("Refreshed.");
    expect(refreshes).toHaveLength(1);
    await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
    // The new token counts its own 5 minutes: the next call does not refresh again.
    await page.getByRole("button", { name: "Account actions" }).click();
    await page.getByRole("menuitem", { name: "Refresh" }).click();
    await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
    expect(refreshes).toHaveLength(1);

    // Sign-out revokes the refresh token: the user pool refuses it afterwards.
    expect(refreshTokens).toHaveLength(1);
    expect(tryRefresh(refreshTokens[0] as string)).toEqual({ refreshed: true });
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
    expect(tryRefresh(refreshTokens[0] as string)).toEqual({ refused: "NotAuthorizedException" });

    // An operator disables the user: the next refresh is refused and the session ends in words.
    await signInToAccount(page, admin);
    disableUser(admin);
    await page.clock.fastForward("03:30");
    await page.getByRole("button", { name: "Account actions" }).click();
    await page.getByRole("menuitem", { name: "Refresh" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
    await expect(page.getByText("Your session has ended. Sign in again.")).toBeVisible();
    expect(refreshes).toHaveLength(2);
    expect(problems).toEqual([]);
  } finally {
    restoreClient(previous);
  }
});

test("an administrator turns on two-step sign-in from Sign-in security; the next sign-in asks for a code", async ({ page }, testInfo) => {
  const problems = watchErrors(page);
  const { accountId } = seed();
  const admin = createUser(accountId, BOTH, { prefix: "self-mfa" });
  await signInToAccount(page, admin);
  await page.getByRole("link", { name: "Sign-in security" }).click();
  await expect(page).toHaveURL(/#\/security$/);
  await expect(page.getByRole("heading", { level: 1, name: "Sign-in security" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 2, name: "Two-step sign-in: off" })).toBeVisible();
  await expectAccessible(page, testInfo, "security-off");

  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  const secretEl = page.locator("code#totp-secret");
  await expect(secretEl).toHaveText(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
  const secret = ((await secretEl.textContent()) ?? "").replace(/\s+/g, "");
  await expect(page.getByLabel("Or, if your app accepts a setup link, copy this one")).toHaveValue(
    new RegExp(`^otpauth://totp/attachment-export:${admin.username}\\?secret=${secret}&issuer=attachment-export$`, "i"),
  );
  const code = page.getByLabel("6-digit code");
  await expect(code).toBeFocused();
  await expectAccessible(page, testInfo, "security-setup");

  // A wrong code is refused in words and may be tried again; the right one turns it on.
  const right = await totpFor(secret);
  await code.fill(String((Number(right) + 500_000) % 1_000_000).padStart(6, "0"));
  await page.getByRole("button", { name: "Verify and turn on" }).click();
  await expect(page.getByRole("alert")).toHaveText("The code is not correct. Enter the current 6-digit code from your authenticator app.");
  await code.fill(await totpFor(secret));
  await code.press("Enter");
  await expect(page.getByRole("heading", { level: 2, name: "Two-step sign-in: on" })).toBeVisible();
  await expect(page.locator("#announcer")).toHaveText("Two-step sign-in is on. Your next sign-in asks for a code.");
  expect(await page.content()).not.toContain(secret);
  // The page reads it back from the user pool, not from memory.
  await page.reload();
  await signIn(page, admin, "/#/security");
  await expect(page.getByRole("heading", { level: 1, name: "Enter your authentication code" })).toBeVisible();
  await page.getByLabel("6-digit code").fill(await totpFor(secret));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "Two-step sign-in: on" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Set up an authenticator app" })).toHaveCount(0);
  expect(problems).toEqual([]);
});

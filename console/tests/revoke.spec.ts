// Revoke links and the downloads summary (issue 25) in Chromium against the local stack: the
// confirmation dialog by keyboard (Cancel has the focus, Tab, Escape), axe, 360 px; the revocation
// signed with the RevokeDataExport role, shown as REVOKED with who and when in the view and the
// list; a user without the RevokeDataExport group sees no Revoke links, and the gateway refuses
// their credentials on the route (403), as it refuses a revoker's on another account's export.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { ROOT, callAs, createUser, expectAccessible, putExport, seed, signInToAccount, utcText } from "./helpers";

const REVOKER = ["RetrieveDataExport", "RevokeDataExport"];
const WARNING =
  "every download link of this export — attachments, manifest, reports and statement — stops working within a minute, for everyone who has them; this cannot be undone";

function startWithCli(accountId: string): { exportId: string } {
  const out = execFileSync(`${ROOT}/target/debug/attachment-export`, ["start", "--account-id", accountId, "--json"], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out) as { exportId: string };
}

async function openExport(page: Page, accountId: string, exportId: string): Promise<void> {
  await page.evaluate(([a, e]) => {
    location.hash = `#/accounts/${a}/exports/${e}`;
  }, [accountId, exportId] as const);
}

/** The links of a saved CSV manifest (its url column). */
function manifestUrls(path: string): string[] {
  const [header, ...rows] = readFileSync(path, "utf8").trim().split("\n");
  const column = (header ?? "").split(",").indexOf("url");
  expect(column).toBeGreaterThanOrEqual(0);
  // The url column holds no comma or quote (a token in a path).
  return rows.map((row) => {
    const cells = row.match(/("([^"]|"")*"|[^,]*)(,|$)/g) ?? [];
    return (cells[column] ?? "").replace(/,$/, "").replace(/^"|"$/g, "");
  });
}

test("Revoke links: a keyboard-first confirmation, then REVOKED with who and when, and the downloads summary", async ({ page }, testInfo) => {
  test.setTimeout(240_000);
  const { accountId } = seed();
  const started = startWithCli(accountId);
  const revoker = createUser(accountId, REVOKER, { prefix: "revoker" });
  await signInToAccount(page, revoker);
  await page.locator(`#export-link-${started.exportId}`).click();
  await expect(page.locator("#export-status")).toHaveText("Succeeded", { timeout: 180_000 });

  // Download file first: the summary counts what the test fetches through the manifest's links.
  const downloading = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download file" }).click();
  const saved = testInfo.outputPath("manifest.csv");
  await (await downloading).saveAs(saved);
  const summary = page.locator("#downloads-summary");
  await expect(summary).toHaveText(/^0 of \d+ files fetched$/);
  const total = Number(((await summary.textContent()) ?? "").match(/of ([\d,]+)/)?.[1]?.replace(/,/g, ""));
  const urls = manifestUrls(saved);
  expect(urls.length).toBe(total);
  for (const url of urls.slice(0, 2)) {
    const fetched = await fetch(url, { redirect: "follow" });
    expect(fetched.status).toBe(200);
    await fetched.arrayBuffer();
  }
  await page.getByRole("button", { name: "Download file" }).click();
  await expect(summary).toHaveText(`2 of ${total.toLocaleString("en-US")} files fetched`);
  await expect(page.getByText("First fetch", { exact: true })).toBeVisible();
  await expectAccessible(page, testInfo, "export-downloads-summary");

  // The dialog by keyboard: Cancel has the focus; Tab reaches the confirmation; Escape closes.
  const posts: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST") posts.push(r.url());
  });
  const revoke = page.getByRole("button", { name: "Revoke links" });
  await revoke.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("alertdialog", { name: "Revoke this export's links?" });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText(WARNING, { ignoreCase: true });
  const cancel = dialog.getByRole("button", { name: "Cancel" });
  const confirm = dialog.getByRole("button", { name: "Revoke links" });
  await expect(cancel).toBeFocused();
  await expectAccessible(page, testInfo, "revoke-dialog");
  await page.keyboard.press("Tab");
  await expect(confirm).toBeFocused();
  await page.keyboard.press("Shift+Tab");
  await expect(cancel).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(revoke).toBeFocused();
  await expect(page.locator("#export-status")).toHaveText("Succeeded");
  // Cancel (Enter on it) closes too, and nothing was sent.
  await page.keyboard.press("Enter");
  await expect(dialog).toBeVisible();
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  expect(posts).toEqual([]);

  // Confirmed: the POST .../revoke, then REVOKED with who and when.
  await revoke.click();
  const posted = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith(`/data-exports/${started.exportId}/revoke`));
  await dialog.getByRole("button", { name: "Revoke links" }).click();
  const reply = await posted;
  expect(reply.status()).toBe(200);
  const body = (await reply.json()) as { status: string; revokedAt: string; revokedBy: { principal: string } };
  expect(body.status).toBe("REVOKED");
  expect(body.revokedBy.principal).toContain("assumed-role/ConsoleRevokeRole");
  await expect(dialog).toBeHidden();
  await expect(page.locator("#export-status")).toHaveText("Revoked");
  await expect(page.getByRole("heading", { level: 2, name: "The links are revoked" })).toBeFocused();
  await expect(page.locator("#revoked-at")).toContainText(utcText(body.revokedAt));
  await expect(page.locator("#revoked-by")).toContainText("Jane Doe (");
  await expect(page.getByRole("button", { name: "Download file" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Revoke links" })).toHaveCount(0);
  await expect(summary).toHaveText(`2 of ${total.toLocaleString("en-US")} files fetched`);
  await expectAccessible(page, testInfo, "export-revoked");

  // Every link stops: within the download function's record cache (1 s locally), a 410.
  await expect
    .poll(async () => (await fetch(urls[0] ?? "", { redirect: "manual" })).status, { timeout: 60_000 })
    .toBe(410);

  // The list shows it REVOKED, with who and when; reloading the view shows the same.
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link").click();
  const card = page.locator(`[data-export-id="${started.exportId}"]`);
  await expect(card.locator(".badge")).toHaveText("Revoked");
  await expect(card.locator(".revoked-line")).toContainText(utcText(body.revokedAt));
  await expect(card.locator(".revoked-line")).toContainText("Jane Doe (");
  await expectAccessible(page, testInfo, "account-with-revoked-export");
  await card.getByRole("link").click();
  await expect(page.locator("#export-status")).toHaveText("Revoked");
  await expect(summary).toHaveText(`2 of ${total.toLocaleString("en-US")} files fetched`);
});

test("Revoke links at 360 px: the dialog fits, axe clean, and revoking works", async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 360, height: 740 });
  const { accountId } = seed();
  const delivered = putExport(accountId, "EXPIRING", 2, 3600);
  const revoker = createUser(accountId, REVOKER, { prefix: "revoker" });
  await signInToAccount(page, revoker);
  await openExport(page, accountId, delivered.exportId);
  await expect(page.locator("#export-status")).toHaveText("Succeeded");
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(await overflow()).toBeLessThanOrEqual(0);
  await page.getByRole("button", { name: "Revoke links" }).click();
  const dialog = page.getByRole("alertdialog", { name: "Revoke this export's links?" });
  await expect(dialog).toBeVisible();
  const box = await dialog.boundingBox();
  expect(box && box.x >= 0 && box.x + box.width <= 360).toBe(true);
  await expectAccessible(page, testInfo, "revoke-dialog-360");
  await dialog.getByRole("button", { name: "Revoke links" }).click();
  await expect(page.locator("#export-status")).toHaveText("Revoked");
  await expect(page.locator("#downloads-summary")).toHaveText("0 of 3 files fetched");
  expect(await overflow()).toBeLessThanOrEqual(0);
  await expectAccessible(page, testInfo, "export-revoked-360");
});

test("without the RevokeDataExport group there is no Revoke links, and the gateway refuses the route (403)", async ({ page }, testInfo) => {
  const { accountId } = seed();
  const other = seed();
  const delivered = putExport(accountId, "EXPIRING", 2, 3600);
  const theirs = putExport(other.accountId, "EXPIRING", 2, 3600);
  const reader = createUser(accountId, ["StartDataExport", "RetrieveDataExport"], { prefix: "reader" });
  await signInToAccount(page, reader);
  await openExport(page, accountId, delivered.exportId);
  await expect(page.locator("#export-status")).toHaveText("Succeeded");
  await expect(page.getByRole("button", { name: "Download file" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Revoke links" })).toHaveCount(0);
  await expect(page.getByRole("heading", { name: "Revoke links" })).toHaveCount(0);
  await expectAccessible(page, testInfo, "export-non-revoker");

  // Their own credentials, signed as the console signs: IAM refuses both roles on the route.
  const route = (a: string, e: string) => `/accounts/${a}/data-exports/${e}/revoke`;
  for (const group of ["RetrieveDataExport", "StartDataExport"]) {
    const refused = callAs(reader, group, "POST", route(accountId, delivered.exportId));
    expect(refused.status, `${group}: ${JSON.stringify(refused.body)}`).toBe(403);
    expect(String(refused.body["Message"] ?? refused.body["message"])).toContain("not authorized to perform: execute-api:Invoke");
  }
  // A revoker of this account cannot revoke another account's export either.
  const revoker = createUser(accountId, REVOKER, { prefix: "revoker" });
  const foreign = callAs(revoker, "RevokeDataExport", "POST", route(other.accountId, theirs.exportId));
  expect(foreign.status, JSON.stringify(foreign.body)).toBe(403);
  // Nothing was revoked: the export still reads SUCCEEDED.
  await page.evaluate((a) => {
    location.hash = `#/accounts/${a}`;
  }, accountId);
  await expect(page.locator(`[data-export-id="${delivered.exportId}"] .badge`)).toHaveText("Succeeded");
  // And the revoker's own export is revoked by the same call.
  const own = callAs(revoker, "RevokeDataExport", "POST", route(accountId, delivered.exportId));
  expect(own.status, JSON.stringify(own.body)).toBe(200);
  expect(own.body["status"]).toBe("REVOKED");
});

// Test helpers: seed accounts, create console users, write export records, sign in, and check
// accessibility with axe-core. Everything runs against the local stack of .local/stack.env.
import { execFileSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect, type Page, type TestInfo } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

export const ROOT = resolve(__dirname, "../..");
const PYTHON = resolve(ROOT, ".local/venv/bin/python");
const CLI = resolve(ROOT, "target/debug/attachment-export");

export interface Seeded {
  accountId: string;
  teamAccountId: string;
  /** The users of My attachments: one whom no account manages, and a Team member. */
  selfService: { userId: string; expectedInExport: number; teamMemberId: string };
}

export interface ConsoleUser {
  username: string;
  password: string;
  accountId: string;
  groups: string[];
}

function run(file: string, args: string[]): string {
  return execFileSync(file, args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
}

function lastJson(out: string): unknown {
  const text = out.trim();
  try {
    return JSON.parse(text);
  } catch {
    const line = text.split("\n").reverse().find((l) => l.trim().startsWith("{"));
    if (!line) throw new Error(`no JSON in output: ${text.slice(0, 500)}`);
    return JSON.parse(line);
  }
}

/** A new Enterprise account with 20 small attachments, and a Team account. */
export function seed(): Seeded {
  const out = run(CLI, ["seed", "--attachments", "20", "--sizes", "small", "--json"]);
  const data = lastJson(out) as Record<string, unknown>;
  const accountId = String(data["accountId"]);
  const teamAccountId = String(data["teamAccountId"]);
  expect(accountId).toMatch(/^[0-9a-f-]{36}$/);
  return { accountId, teamAccountId, selfService: data["selfService"] as Seeded["selfService"] };
}

let userCounter = 0;

/** A console user of ACCOUNT in GROUPS (infra/local/tools/console_users.py). */
export function createUser(accountId: string, groups: string[], options: { temporary?: boolean; prefix?: string } = {}): ConsoleUser {
  userCounter += 1;
  const username = `${options.prefix ?? "admin"}-${Date.now().toString(36)}-${process.pid}-${userCounter}`;
  // Named as an operator names people (the audit trail shows them): "Jane Doe (<username>@example.com)".
  const args = [resolve(ROOT, "infra/local/tools/console_users.py"), "create", "--username", username, "--account-id", accountId, "--groups", groups.join(","), "--name", "Jane Doe", "--email", `${username}@example.com`];
  if (options.temporary) args.push("--temporary");
  const data = lastJson(run(PYTHON, args)) as ConsoleUser;
  expect(data.username).toBeTruthy();
  expect(data.password).toBeTruthy();
  return data;
}

/** Writes an export record straight into ExportsTable (tests/fixtures.py). */
export function putExport(
  accountId: string,
  kind: "FAILED" | "EXPIRED" | "EXPIRING",
  hoursAgo?: number,
  expiresIn?: number,
): { exportId: string; urlsExpireAt?: string; message?: string } {
  const args = [resolve(__dirname, "fixtures.py"), "put-export", "--account-id", accountId, "--kind", kind];
  if (hoursAgo !== undefined) args.push("--hours-ago", String(hoursAgo));
  if (expiresIn !== undefined) args.push("--expires-in", String(expiresIn));
  return lastJson(run(PYTHON, args)) as {
    exportId: string;
    urlsExpireAt?: string;
    message?: string;
  };
}

/** Turns on TOTP MFA for a user in moto's user pool (tests/fixtures.py). */
export function enableTotp(user: ConsoleUser): { code: string } {
  return lastJson(run(PYTHON, [resolve(__dirname, "fixtures.py"), "enable-totp", "--username", user.username, `--password=${user.password}`])) as {
    code: string;
  };
}

export function totpCode(): string {
  return (lastJson(run(PYTHON, [resolve(__dirname, "fixtures.py"), "totp-code"])) as { code: string }).code;
}

/** Sets the console's user pool to MfaConfiguration ON; returns what restoreMfa puts back. */
export function requireMfa(): string {
  return JSON.stringify(lastJson(run(PYTHON, [resolve(__dirname, "fixtures.py"), "require-mfa"])));
}

export function restoreMfa(previous: string): void {
  run(PYTHON, [resolve(__dirname, "fixtures.py"), "restore-mfa", "--config", previous]);
}

/** Sets the console's app client to ID and access tokens of MINUTES; returns what restoreClient puts back. */
export function tokenLifetime(minutes: number): string {
  return JSON.stringify(lastJson(run(PYTHON, [resolve(__dirname, "fixtures.py"), "token-lifetime", "--minutes", String(minutes)])));
}

export function restoreClient(previous: string): void {
  run(PYTHON, [resolve(__dirname, "fixtures.py"), "restore-client", "--config", previous]);
}

export function disableUser(user: ConsoleUser): void {
  run(PYTHON, [resolve(__dirname, "fixtures.py"), "disable-user", "--username", user.username]);
}

/** What the user pool answers REFRESH_TOKEN_AUTH with TOKEN. */
export function tryRefresh(token: string): { refreshed?: boolean; refused?: string } {
  return lastJson(run(PYTHON, [resolve(__dirname, "fixtures.py"), "refresh", "--token", token])) as { refreshed?: boolean; refused?: string };
}

/** The current RFC 6238 code (SHA-1, 30 s, 6 digits) of a base32 SECRET, as an authenticator app
 * computes it; waits out the last 3 s of a period so the code is still current when it arrives. */
export async function totpFor(secret: string): Promise<string> {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.toUpperCase().replace(/[\s=]/g, "")) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, "0");
  }
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  if (Date.now() % 30_000 > 27_000) await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 100));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, "0");
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** "2026-12-02 03:24 UTC", as the console writes UTC times. */
export function utcText(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())} UTC`;
}

export async function signIn(page: Page, user: Pick<ConsoleUser, "username" | "password">, path = "/"): Promise<void> {
  await page.goto(path);
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await page.getByLabel("User name").fill(user.username);
  await page.getByLabel("Password", { exact: true }).fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Signs in and waits for the account page of the user's own account. */
export async function signInToAccount(page: Page, user: ConsoleUser): Promise<void> {
  await signIn(page, user);
  await expect(page).toHaveURL(new RegExp(`#/accounts/${user.accountId}$`));
  await expect(page.getByRole("heading", { level: 2, name: "Data exports" })).toBeVisible();
}

/** axe-core: no serious or critical violation on the page as it is now. */
export async function expectAccessible(page: Page, testInfo: TestInfo, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) {
    await testInfo.attach(`axe-${screen}.json`, { body: JSON.stringify(bad, null, 2), contentType: "application/json" });
  }
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    `axe-core on the ${screen} screen`,
  ).toEqual([]);
}

/** Opens Account actions with the keyboard and returns the Request attachments item. */
export async function openAccountActions(page: Page) {
  const button = page.getByRole("button", { name: "Account actions" });
  await button.focus();
  await page.keyboard.press("ArrowDown");
  await expect(button).toHaveAttribute("aria-expanded", "true");
  const item = page.getByRole("menuitem", { name: "Request attachments" });
  await expect(item).toBeFocused();
  return item;
}

/** Nothing the page shows or holds may be a pre-signed link. */
export async function expectNoLinksInPage(page: Page): Promise<void> {
  const html = await page.content();
  expect(html).not.toMatch(/X-Amz-Signature|X-Amz-Credential|https?:\/\/127\.0\.0\.1:18001/i);
}


/** One API call with USER's own console credentials (the identity pool's, for GROUP's role),
 * SigV4-signed as the console signs (tests/fixtures.py call-as). */
export function callAs(user: ConsoleUser, group: string, method: "GET" | "POST", path: string): { status: number; body: Record<string, unknown> } {
  return lastJson(
    run(PYTHON, [resolve(__dirname, "fixtures.py"), "call-as", "--username", user.username, `--password=${user.password}`, "--group", group, "--method", method, "--path", path]),
  ) as { status: number; body: Record<string, unknown> };
}

/** The address the chat service opens for USER (its token valid SECONDS). */
export function chatLink(user: string, seconds = 300): string {
  const out = run(PYTHON, [resolve(ROOT, "infra/local/tools/chat_service.py"), "console-link", "--user-id", user, "--duration", String(seconds)]);
  return (lastJson(out) as { path: string }).path;
}

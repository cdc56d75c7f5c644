// The console's addresses (hash routes):
//   #/                                    → the signed-in user's own account
//   #/accounts/<accountId>                → the account page (details, Account actions, Data exports)
//   #/accounts/<accountId>/exports/<id>   → one export (progress, result, Download file)
//   #/security                            → Sign-in security (two-step sign-in)
// Parsing and building them only; which screen each shows is router.ts.

export interface Route {
  kind: "home" | "account" | "export" | "security" | "unknown";
  accountId?: string;
  exportId?: string;
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "");
  if (path === "" || path === "/") return { kind: "home" };
  if (path === "/security") return { kind: "security" };
  const m = /^\/accounts\/([^/]+)(?:\/exports\/([^/]+))?\/?$/.exec(path);
  if (!m || !m[1]) return { kind: "unknown" };
  const accountId = decodeURIComponent(m[1]);
  if (m[2]) return { kind: "export", accountId, exportId: decodeURIComponent(m[2]) };
  return { kind: "account", accountId };
}

export function accountHref(accountId: string): string {
  return `#/accounts/${encodeURIComponent(accountId)}`;
}

export const SECURITY_HREF = "#/security";

export function exportHref(accountId: string, exportId: string): string {
  return `${accountHref(accountId)}/exports/${encodeURIComponent(exportId)}`;
}

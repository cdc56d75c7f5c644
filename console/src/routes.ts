// The console's addresses (hash routes):
//   #/                                    → the signed-in user's own account
//   #/accounts/<accountId>                → the account page (details, Account actions, Data exports)
//   #/accounts/<accountId>/exports/<id>   → one export (progress, result, Download file)
//   #/security                            → Sign-in security (two-step sign-in)
//   #/my-attachments                      → a chat user's own exports (mine.ts)
//   #/my-attachments/sign-in?user=&token= → the chat service's hand-over (never kept in history)
// Parsing and building them only; which screen each shows is router.ts.

export interface Route {
  kind: "home" | "account" | "export" | "security" | "mine" | "mineSignIn" | "unknown";
  accountId?: string;
  exportId?: string;
  /** mineSignIn: the chat user and the chat service's token. */
  userId?: string;
  token?: string;
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "");
  if (path === "" || path === "/") return { kind: "home" };
  if (path === "/security") return { kind: "security" };
  if (path === "/my-attachments") return { kind: "mine" };
  const handOver = /^\/my-attachments\/sign-in\?(.*)$/.exec(path);
  if (handOver) {
    const q = new URLSearchParams(handOver[1]);
    return { kind: "mineSignIn", userId: q.get("user") ?? "", token: q.get("token") ?? "" };
  }
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

export const MY_ATTACHMENTS_HREF = "#/my-attachments";

export function exportHref(accountId: string, exportId: string): string {
  return `${accountHref(accountId)}/exports/${encodeURIComponent(exportId)}`;
}

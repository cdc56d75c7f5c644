// The export API (DESIGN §5), every call signed with SigV4 (service execute-api) using the
// credentials of the role the route needs: StartDataExport for the POST, RetrieveDataExport for
// the GETs (or RevokeDataExport's, whose role may read too, for a user in that group only), and
// RevokeDataExport for the POST .../revoke. Errors become ApiError with words for the administrator; no URL is ever shown.

import { AwsClient } from "aws4fetch";
import type { Config } from "./config";
import { type Permission, type SignedPermission, SELF_SERVICE, credentialsOf, holds } from "./session";
import { noUrls, when } from "./format";

export type ExportStatus = "QUEUED" | "RUNNING" | "SUCCEEDED" | "SUCCEEDED_WITH_ERRORS" | "FAILED" | "EXPIRED" | "REVOKED";

export interface TypeTotals {
  count: number;
  bytes: number;
}

export interface ExportResult {
  attachmentCount: number;
  totalBytes: number;
  byConversationType: Record<string, TypeTotals>;
  manifestBytes?: number;
  manifestSha256?: string;
  urlsExpireAt?: string;
  errorCount?: number;
}

export interface Link {
  url: string;
  urlExpiresAt: string;
  bytes?: number;
  sha256?: string;
  rows?: number;
  format?: string;
}

/** A console user as the user pool names them (resolved by the export service, never by the browser). */
export interface Person {
  username: string;
  name?: string;
  email?: string;
}

/** One hand-out of an export's links: when, to which principal, and the person behind it. */
export interface Handout {
  at: string;
  principal: string;
  person?: Person;
}

/** Who revoked an export's links, how (api, invoke) and the person behind a console user. */
export interface RevokedBy {
  principal: string;
  via: string;
  person?: Person;
}

/** How many of an export's files were fetched through their links at least once, and when. */
export interface Downloads {
  filesFetched: number;
  firstAt?: string;
  lastFirstFetchAt?: string;
}

export interface Export {
  exportId: string;
  /** An account's export; a chat user's own (My attachments) has userId instead. */
  accountId: string;
  userId?: string;
  status: ExportStatus;
  format: string;
  requestedAt: string;
  cutoff: string;
  requestedBy: { principal: string; via: string; person?: Person };
  startedAt?: string;
  completedAt?: string;
  progress?: { attachmentsListed: number; partsWritten: number };
  error?: { code: string; message: string };
  result?: ExportResult;
  urlsExpireAt?: string;
  manifest?: Link;
  errors?: Link;
  coverage?: Link;
  retrievals: number;
  lastRetrievedAt?: string;
  lastRetrievedBy?: string;
  /** The latest hand-outs, newest first: only in the reply that hands the links out. */
  handouts?: Handout[];
  /** REVOKED only: when the links were revoked, and by whom. */
  revokedAt?: string;
  revokedBy?: RevokedBy;
  /** Delivered and revoked exports asked for by id: how many files were fetched. */
  downloads?: Downloads;
}

export interface RevokeReply {
  accountId: string;
  exportId: string;
  status: ExportStatus;
  revokedAt: string;
  revokedBy: RevokedBy;
}

/** The credentials that read: RetrieveDataExport's, else RevokeDataExport's (its role reads too). */
function readPermission(): Permission {
  return !holds("RetrieveDataExport") && holds("RevokeDataExport") ? "RevokeDataExport" : "RetrieveDataExport";
}

export interface Account {
  accountId: string;
  name: string;
  type: "ENTERPRISE" | "TEAM" | string;
  domains: string[];
}

export interface RequestState {
  allowed: boolean;
  code?: string;
  message?: string;
  nextAllowedAt?: string;
}

export interface ExportList {
  exports: Export[];
  nextToken?: string | null;
  nextAllowedAt: string;
  account?: Account;
  request?: RequestState;
}

/** A chat user's own exports (GET /users/{userId}/data-exports). */
export interface UserExportList {
  userId: string;
  exports: Export[];
  nextToken?: string | null;
  nextAllowedAt: string;
  request?: RequestState;
}

export interface StartReply {
  exportId: string;
  status: ExportStatus;
  requestedAt: string;
  cutoff: string;
  nextAllowedAt: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly nextAllowedAt?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

function describe(
  status: number,
  code: string,
  apiMessage: string,
  nextAllowedAt: string | undefined,
  what: string,
  permission: SignedPermission,
): string {
  if (permission === SELF_SERVICE && status === 403) {
    // The function's own refusal (self-service turned off) has a code; IAM's has none.
    return code && apiMessage
      ? noUrls(apiMessage)
      : `Access denied: you can ${what} only for yourself, as the chat signed you in (the service answered 403 Forbidden).`;
  }
  switch (status) {
    case 400:
      return `The request was not valid: ${noUrls(apiMessage) || "the service refused it."}`;
    case 403:
      return `Access denied: your sign-in does not allow you to ${what}. You can act only for your own account, with the permissions your groups give (the service answered 403 Forbidden).`;
    case 404:
      return `Not found: ${noUrls(apiMessage) || "the account or export does not exist."}`;
    case 410:
      return `Expired: ${noUrls(apiMessage) || "this export's download links no longer work."}`;
    case 422:
      return noUrls(apiMessage) || "Data exports are available to Enterprise accounts only.";
    case 429:
      return nextAllowedAt
        ? `One request is accepted every 7 days. The next request is possible from ${when(nextAllowedAt)}.`
        : noUrls(apiMessage) || "Too many requests. Try again later.";
    default:
      if (status >= 500) {
        return "The export service failed to answer (an internal error). Try again in a few minutes; if it keeps failing, contact support.";
      }
      return `The export service refused the request (HTTP ${status}${code ? `, ${code}` : ""}).`;
  }
}

export class Api {
  constructor(private readonly config: Config) {}

  private async send(
    permission: SignedPermission,
    method: "GET" | "POST",
    path: string,
    what: string,
    body?: unknown,
  ): Promise<unknown> {
    const creds = await credentialsOf(this.config, permission);
    const client = new AwsClient({
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      sessionToken: creds.sessionToken,
      service: "execute-api",
      region: this.config.region,
      retries: 0,
    });
    const init: RequestInit = {
      method,
      cache: "no-store",
      credentials: "omit",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    let response: Response;
    try {
      response = await client.fetch(`${this.config.apiUrl}${path}`, init);
    } catch {
      throw new ApiError(0, "NetworkError", "The export service could not be reached. Check your connection and try again.");
    }
    let data: unknown = undefined;
    try {
      data = await response.json();
    } catch {
      data = undefined;
    }
    if (!response.ok) {
      const d = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
      const code = typeof d["code"] === "string" ? d["code"] : "";
      const apiMessage = typeof d["message"] === "string" && code ? d["message"] : "";
      let next = typeof d["nextAllowedAt"] === "string" ? d["nextAllowedAt"] : undefined;
      if (!next && response.status === 429) {
        const retry = Number(response.headers.get("Retry-After"));
        if (Number.isFinite(retry) && retry > 0) next = new Date(Date.now() + retry * 1000).toISOString();
      }
      throw new ApiError(response.status, code, describe(response.status, code, apiMessage, next, what, permission), next);
    }
    return data;
  }

  list(accountId: string, nextToken?: string, maxResults?: number): Promise<ExportList> {
    const q = new URLSearchParams();
    if (maxResults) q.set("maxResults", String(maxResults));
    if (nextToken) q.set("nextToken", nextToken);
    const query = q.toString();
    return this.send(
      readPermission(),
      "GET",
      `/accounts/${encodeURIComponent(accountId)}/data-exports${query ? `?${query}` : ""}`,
      "see this account's data exports",
    ) as Promise<ExportList>;
  }

  /** One export. For a delivered export this counts a retrieval and hands out the manifest link. */
  get(accountId: string, exportId: string): Promise<Export> {
    return this.send(
      readPermission(),
      "GET",
      `/accounts/${encodeURIComponent(accountId)}/data-exports/${encodeURIComponent(exportId)}`,
      "download this account's exports",
    ) as Promise<Export>;
  }

  start(accountId: string, format: "csv" | "jsonl", clientToken: string): Promise<StartReply> {
    return this.send(
      "StartDataExport",
      "POST",
      `/accounts/${encodeURIComponent(accountId)}/data-exports`,
      "request attachments for this account",
      { format, clientToken },
    ) as Promise<StartReply>;
  }

  /** The signed-in chat user's own exports, newest first (My attachments). */
  myExports(userId: string): Promise<UserExportList> {
    return this.send(SELF_SERVICE, "GET", `/users/${encodeURIComponent(userId)}/data-exports?maxResults=20`, "see attachment exports") as Promise<UserExportList>;
  }

  /** One of the chat user's exports; a delivered one hands out its manifest link (counted). */
  myExport(userId: string, exportId: string): Promise<Export> {
    return this.send(
      SELF_SERVICE,
      "GET",
      `/users/${encodeURIComponent(userId)}/data-exports/${encodeURIComponent(exportId)}`,
      "download attachment exports",
    ) as Promise<Export>;
  }

  /** Revokes every link of the chat user's own delivered export (SelfServiceDataExport; no body). */
  revokeMine(userId: string, exportId: string): Promise<RevokeReply> {
    return this.send(
      SELF_SERVICE,
      "POST",
      `/users/${encodeURIComponent(userId)}/data-exports/${encodeURIComponent(exportId)}/revoke`,
      "revoke attachment exports",
    ) as Promise<RevokeReply>;
  }

  startMine(userId: string, format: "csv" | "jsonl", clientToken: string): Promise<StartReply> {
    return this.send(SELF_SERVICE, "POST", `/users/${encodeURIComponent(userId)}/data-exports`, "request attachments", {
      format,
      clientToken,
    }) as Promise<StartReply>;
  }

  /** Revokes every link of a delivered export, for good (RevokeDataExport; no body). */
  revoke(accountId: string, exportId: string): Promise<RevokeReply> {
    return this.send(
      "RevokeDataExport",
      "POST",
      `/accounts/${encodeURIComponent(accountId)}/data-exports/${encodeURIComponent(exportId)}/revoke`,
      "revoke this export's links",
    ) as Promise<RevokeReply>;
  }
}

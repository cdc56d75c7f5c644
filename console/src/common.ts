// Pieces shared by the account and export pages.

import type { App } from "./app";
import { accountHref } from "./routes";
import { h, replace } from "./dom";
import { ApiError, type ExportList, type Person, type RequestState } from "./api";
import { NoPermissionError, SessionEndedError, holds, session } from "./session";
import { when } from "./format";

/** Shows an API failure as the page's content, in words; a session that ended goes back to sign-in instead (app.ended). */
export function renderFailure(app: App, accountId: string, error: unknown): void {
  if (error instanceof SessionEndedError) {
    app.ended(error.message);
    return;
  }
  const own = session()?.claims.chatAccountId;
  let title = "Something went wrong";
  let lines: string[] = [];
  if (error instanceof NoPermissionError) {
    title = "Not permitted";
    lines = [
      `Your sign-in does not include the ${error.permission} permission, so this page cannot be shown.`,
      "Ask your operator to add you to the group of that name.",
    ];
  } else if (error instanceof ApiError) {
    if (error.status === 403) {
      title = "Access denied";
      lines = [
        own && own !== accountId
          ? `You cannot see or act on account ${accountId}. Your sign-in is for account ${own} only.`
          : `You cannot see or act on account ${accountId} with your sign-in.`,
        "The export service refused the request (403 Forbidden).",
      ];
    } else if (error.status === 404) {
      title = "Not found";
      lines = [error.message];
    } else if (error.status === 410) {
      title = "Expired";
      lines = [error.message];
    } else {
      lines = [error.message];
    }
  } else {
    lines = ["The console failed unexpectedly. Reload the page and try again."];
  }
  const heading = h("h1", { tabindex: "-1" }, title);
  replace(
    app.main,
    heading,
    h("div", { class: "refusal", role: "alert" }, lines.map((line) => h("p", {}, line))),
    own ? h("p", {}, h("a", { href: accountHref(own) }, "Go to your account")) : null,
  );
  app.titled(heading, title);
}

/** Why Request attachments is unavailable, or undefined when it is available. */
export function requestBlocked(list: ExportList | undefined): string | undefined {
  if (!holds("StartDataExport")) {
    return "Your sign-in does not include the StartDataExport permission, so you cannot request attachments. Ask your operator to add you to the StartDataExport group.";
  }
  if (!list) return undefined;
  const request: RequestState | undefined = list.request;
  if (request && !request.allowed) {
    if (request.code === "UnprocessableEntityException" || list.account?.type === "TEAM") {
      const guidance = request.message ?? "Data exports are available to Enterprise accounts only.";
      return /\bTeam account\b/.test(guidance) ? guidance : `This is a Team account. ${guidance}`;
    }
    if (request.code === "ThrottledClientException" || request.nextAllowedAt) {
      const next = request.nextAllowedAt ?? list.nextAllowedAt;
      return `One request is accepted every 7 days. The next request is possible from ${when(next)}.`;
    }
    return request.message ?? "A request cannot be made right now.";
  }
  if (!request) {
    // An API without the request field: judge from what the list says.
    if (list.account?.type === "TEAM") return "This is a Team account: data exports are available to Enterprise accounts only.";
    if (Date.parse(list.nextAllowedAt) > Date.now() + 1000) {
      return `One request is accepted every 7 days. The next request is possible from ${when(list.nextAllowedAt)}.`;
    }
  }
  return undefined;
}

/** "now" or "from <date>" for when a new request can be made. */
export function nextRequest(list: ExportList | undefined): string {
  const next = list?.request?.nextAllowedAt ?? list?.nextAllowedAt;
  if (!next || Date.parse(next) <= Date.now() + 1000) return "now";
  return `from ${when(next)}`;
}

/** "Jane Doe (jane@example.com)", or as much as the user pool holds. */
export function personName(person: Person): string {
  if (person.name && person.email) return `${person.name} (${person.email})`;
  if (person.name) return `${person.name} (${person.username})`;
  return person.email ?? person.username;
}

/**
 * Who did something, named as a person when the export service resolved one, with the IAM
 * principal (the role session an investigator matches in CloudTrail) as the detail; else the principal.
 */
export function who(principal: string, person?: Person): HTMLElement {
  if (!person) return h("span", { class: "mono principal" }, principal);
  return h(
    "details",
    { class: "who" },
    h("summary", {}, personName(person)),
    h("span", { class: "mono principal" }, principal),
  );
}

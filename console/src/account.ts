// The account page: details, the Account actions menu (Request attachments), and the Data exports
// history (newest first, with paging). Page 1 is refreshed every 2 s while an export is running.

import type { App } from "./app";
import { exportHref } from "./routes";
import { announce, h, replace, uid } from "./dom";
import { Api, ApiError, type Export, type ExportList } from "./api";
import { menuButton } from "./menu";
import { personName, renderFailure, requestBlocked } from "./common";
import { NoPermissionError, SessionEndedError, holds } from "./session";
import { count, formatName, status as statusName, when } from "./format";

const PAGE_SIZE = 10;
const POLL_MS = 2000;

function typeName(type: string | undefined): string {
  if (type === "ENTERPRISE") return "Enterprise";
  if (type === "TEAM") return "Team";
  return type ?? "Unknown";
}

export function exportCard(accountId: string, e: Export): HTMLElement {
  const title = `Export requested ${when(e.requestedAt)}`;
  const progress =
    (e.status === "QUEUED" || e.status === "RUNNING") && e.progress
      ? ` · ${count(e.progress.attachmentsListed, "attachment", "attachments")} listed so far`
      : "";
  const result =
    e.result && (e.status === "SUCCEEDED" || e.status === "SUCCEEDED_WITH_ERRORS" || e.status === "REVOKED")
      ? ` · ${count(e.result.attachmentCount, "attachment", "attachments")}`
      : "";
  return h(
    "li",
    { class: "export-card", "data-export-id": e.exportId },
    h("h3", {}, h("a", { href: exportHref(accountId, e.exportId), id: `export-link-${e.exportId}` }, title)),
    h(
      "p",
      {},
      h("span", { class: `badge status-${e.status.toLowerCase()}` }, statusName(e.status)),
      ` ${formatName(e.format)}${result}${progress}`,
    ),
    h(
      "p",
      { class: "muted" },
      `Export ${e.exportId}, requested by ${e.requestedBy.person ? personName(e.requestedBy.person) : e.requestedBy.principal}`,
    ),
    e.status === "REVOKED" && e.revokedAt
      ? h(
          "p",
          { class: "muted revoked-line" },
          `Links revoked ${when(e.revokedAt)}${e.revokedBy ? ` by ${e.revokedBy.person ? personName(e.revokedBy.person) : e.revokedBy.principal}` : ""}`,
        )
      : null,
  );
}

export function renderAccount(app: App, accountId: string): void {
  const api = new Api(app.config);
  const screen = app.screen;
  const heading = h("h1", { tabindex: "-1" }, "Account");
  replace(app.main, heading, h("p", { role: "status" }, "Loading the account…"));
  app.titled(heading, "Account");

  // Paging: tokens[i] is the nextToken that gives page i (page 0 has none).
  const tokens: (string | undefined)[] = [undefined];
  let page = 0;
  let latest: ExportList | undefined;

  const actionsSlot = h("div", { class: "actions-slot" });
  const listSlot = h("div", { class: "list-slot" });
  const pagerSlot = h("div", { class: "pager" });
  const requestNotice = h("div", { class: "notice-slot", role: "status" });
  const listHeadingId = uid("exports-heading");

  const drawActions = (list: ExportList): void => {
    const blocked = requestBlocked(list);
    const reasonId = uid("request-reason");
    const menu = menuButton("Account actions", [
      {
        label: "Request attachments",
        disabled: blocked !== undefined,
        describedBy: blocked ? reasonId : undefined,
        onSelect: () => openRequestDialog(app, api, accountId, list, (reply) => void afterRequest(reply.exportId)),
      },
      { label: "Refresh", onSelect: () => void load(true) },
    ]);
    replace(
      actionsSlot,
      menu,
      blocked
        ? h("p", { id: reasonId, class: "reason" }, h("strong", {}, "Request attachments is unavailable. "), blocked)
        : h("p", { class: "hint" }, "Request attachments: export the links to every file of this account's managed users."),
    );
  };

  const drawList = (list: ExportList): void => {
    const focusedId = document.activeElement instanceof HTMLElement ? document.activeElement.id : "";
    if (list.exports.length === 0) {
      replace(listSlot, h("p", {}, page === 0 ? "No exports yet. Use Account actions, Request attachments to start one." : "No older exports."));
    } else {
      replace(listSlot, h("ul", { class: "export-list", "aria-labelledby": listHeadingId }, list.exports.map((e) => exportCard(accountId, e))));
    }
    const buttons: HTMLElement[] = [];
    if (page > 0) {
      buttons.push(h("button", { type: "button", class: "secondary", onclick: () => void turn(page - 1) }, "Newer exports"));
    }
    if (list.nextToken) {
      const token = list.nextToken;
      buttons.push(
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: () => {
              tokens[page + 1] = token;
              void turn(page + 1);
            },
          },
          "Older exports",
        ),
      );
    }
    replace(pagerSlot, buttons.length ? h("p", { class: "muted" }, `Page ${page + 1}`) : null, buttons);
    if (focusedId) document.getElementById(focusedId)?.focus();
  };

  const turn = async (to: number): Promise<void> => {
    try {
      const list = await api.list(accountId, tokens[to], PAGE_SIZE);
      if (!screen.active) return;
      page = to;
      drawList(list);
      announce(`Page ${page + 1} of the data exports.`);
      listSlot.querySelector<HTMLElement>("a")?.focus();
    } catch (error) {
      if (error instanceof SessionEndedError) app.ended(error.message);
      else replace(pagerSlot, h("p", { class: "error", role: "alert" }, error instanceof ApiError ? error.message : "The exports could not be loaded."));
    }
  };

  let polling = false;
  const poll = (): void => {
    if (polling) return;
    polling = true;
    // Only while an export on page 1 runs; a finished one stops the refreshing.
    screen.interval(() => {
      if (latest && running(latest)) void load(false);
    }, POLL_MS);
  };

  const running = (list: ExportList): boolean => list.exports.some((e) => e.status === "QUEUED" || e.status === "RUNNING");

  let first = true;
  const load = async (manual: boolean): Promise<void> => {
    let list: ExportList;
    try {
      list = await api.list(accountId, undefined, PAGE_SIZE);
    } catch (error) {
      if (!screen.active) return;
      if (error instanceof NoPermissionError && holds("StartDataExport")) {
        // May request but not read: the account page without its history.
        if (first) {
          first = false;
          drawPage({ exports: [], nextAllowedAt: new Date().toISOString() });
          replace(listSlot, h("p", {}, "Your sign-in does not include the RetrieveDataExport permission, so this account's exports cannot be shown here."));
        }
        return;
      }
      if (first) renderFailure(app, accountId, error);
      else if (error instanceof SessionEndedError) app.ended(error.message);
      return;
    }
    if (!screen.active) return;
    const wasRunning = latest ? running(latest) : false;
    latest = list;
    if (first) {
      first = false;
      drawPage(list);
    } else {
      drawActions(list);
      if (page === 0) drawList(list);
      if (wasRunning && !running(list)) announce("The export has finished.");
      if (manual) announce("Refreshed.");
    }
    if (running(list)) poll();
  };

  const afterRequest = async (exportId: string): Promise<void> => {
    page = 0;
    await load(false);
    replace(
      requestNotice,
      holds("RetrieveDataExport")
        ? h("p", { class: "success" }, "Export requested. It appears below; ", h("a", { href: exportHref(accountId, exportId) }, "follow its progress"), ".")
        : h("p", { class: "success" }, `Export requested (export ${exportId}). Someone with the RetrieveDataExport permission can download it when it is ready.`),
    );
    document.getElementById(`export-link-${exportId}`)?.focus();
  };

  const drawPage = (list: ExportList): void => {
    const account = list.account;
    const name = account?.name ?? `Account ${accountId}`;
    const title = h("h1", { tabindex: "-1" }, name);
    const domains = account?.domains ?? [];
    replace(
      app.main,
      title,
      h(
        "section",
        { "aria-labelledby": "details-heading", class: "card" },
        h("h2", { id: "details-heading" }, "Account details"),
        h(
          "dl",
          { class: "details" },
          h("dt", {}, "Name"),
          h("dd", {}, account?.name ?? "Not shown"),
          h("dt", {}, "Type"),
          h("dd", {}, typeName(account?.type)),
          h("dt", {}, "Domains"),
          h("dd", {}, domains.length ? h("ul", { class: "plain" }, domains.map((d) => h("li", {}, d))) : "None"),
          h("dt", {}, "Account ID"),
          h("dd", { class: "mono" }, accountId),
        ),
        actionsSlot,
      ),
      h(
        "section",
        { "aria-labelledby": listHeadingId, class: "card" },
        h("h2", { id: listHeadingId }, "Data exports"),
        h("p", { class: "muted" }, "Newest first. One request is accepted every 7 days; download links work for 6 days."),
        requestNotice,
        listSlot,
        pagerSlot,
      ),
    );
    drawActions(list);
    drawList(list);
    app.titled(title, name);
  };

  void load(false);
}

// --- The request dialog -------------------------------------------------------------------

function openRequestDialog(
  app: App,
  api: Api,
  accountId: string,
  list: ExportList,
  done: (reply: { exportId: string }) => void,
): void {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid("dialog-title");
  const descId = uid("dialog-desc");
  const csv = h("input", { type: "radio", name: "format", value: "csv", id: uid("fmt"), checked: true });
  const jsonl = h("input", { type: "radio", name: "format", value: "jsonl", id: uid("fmt") });
  const confirm = h("button", { type: "submit", class: "primary" }, "Confirm request");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const errorSlot = h("div", { class: "error-slot" });
  const accountName = list.account?.name ?? accountId;
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { id: titleId }, "Request attachments"),
    h(
      "div",
      { id: descId },
      h(
        "p",
        {},
        `The export lists every file that the managed users of ${accountName} uploaded to 1:1 and group conversations, and every file in the rooms they created, up to now (the moment you confirm).`,
      ),
      h(
        "ul",
        {},
        h("li", {}, "You get one file of download links, one per attachment. The links work for 6 days after the export completes."),
        h("li", {}, "One request is accepted every 7 days for this account: the next one will be possible 7 days after you confirm."),
        h("li", { class: "warning" }, h("strong", {}, "Anyone who gets the file can download every attachment it lists. "), "Keep it as safe as the attachments themselves."),
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Format of the file"),
      h("div", { class: "choice" }, csv, h("label", { for: csv.id }, "CSV (opens in a spreadsheet)")),
      h("div", { class: "choice" }, jsonl, h("label", { for: jsonl.id }, "JSON Lines (one JSON object per line, for scripts)")),
    ),
    errorSlot,
    h("div", { class: "actions" }, confirm, cancel),
  );
  const dialog = h("dialog", { "aria-labelledby": titleId, "aria-describedby": descId, class: "dialog" }, form);
  document.body.appendChild(dialog);
  const clientToken = crypto.randomUUID();
  let sending = false;

  const close = (): void => {
    if (dialog.open) dialog.close();
  };
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener?.focus();
  });
  dialog.addEventListener("cancel", (event) => {
    if (sending) event.preventDefault();
  });
  cancel.addEventListener("click", close);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sending) return;
    sending = true;
    confirm.disabled = true;
    cancel.disabled = true;
    confirm.textContent = "Requesting…";
    replace(errorSlot);
    api
      .start(accountId, jsonl.checked ? "jsonl" : "csv", clientToken)
      .then((reply) => {
        sending = false;
        close();
        announce("Export requested.");
        done(reply);
      })
      .catch((error: unknown) => {
        sending = false;
        if (error instanceof SessionEndedError) {
          close();
          app.ended(error.message);
          return;
        }
        cancel.disabled = false;
        confirm.textContent = "Confirm request";
        const message = error instanceof ApiError ? error.message : "The request failed unexpectedly. Try again.";
        // A refusal (Team, 7-day window, permission) will not change by retrying.
        confirm.disabled = error instanceof ApiError && [403, 422, 429].includes(error.status);
        replace(errorSlot, h("p", { class: "error", role: "alert" }, message));
        cancel.focus();
      });
  });
  dialog.showModal();
  csv.focus();
}

// One export: live progress while it runs, the result and Download file when it has succeeded,
// Revoke links for a delivered export (RevokeDataExport), the readable error when it failed, when
// it expired, and who revoked it when it was revoked, with how many of its files were fetched. The page reads the export from the
// account's list (never counted); only Download file asks for the export by id, which counts a
// retrieval and hands out the manifest link.

import type { App } from "./app";
import { accountHref } from "./routes";
import { announce, h, navigateDownload, replace, uid } from "./dom";
import { Api, ApiError, type Export, type ExportList, type Handout, type Link, type RevokeReply } from "./api";
import { nextRequest, renderFailure, who } from "./common";
import { openRevokeDialog } from "./revoke-dialog";
import { SessionEndedError, canRead, holds } from "./session";
import {
  bytes,
  conversationType,
  count,
  elapsed,
  exactBytes,
  formatName,
  noUrls,
  remaining,
  status as statusName,
  when,
} from "./format";

const POLL_MS = 2000;
const MAX_PAGES = 50;

async function find(api: Api, accountId: string, exportId: string): Promise<{ list: ExportList; found?: Export }> {
  let token: string | undefined;
  let firstPage: ExportList | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const list = await api.list(accountId, token, 100);
    firstPage ??= list;
    const found = list.exports.find((e) => e.exportId === exportId);
    if (found) return { list: firstPage, found };
    // Ids sort by request time, newest first: once past it, it is not there.
    const last = list.exports[list.exports.length - 1];
    if (!list.nextToken || (last && last.exportId < exportId)) break;
    token = list.nextToken;
  }
  return { list: firstPage as ExportList };
}

function dl(pairs: [string, string | Node | null | undefined][]): HTMLElement {
  return h(
    "dl",
    { class: "details" },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v as string | Node)]),
  );
}

export function renderExport(app: App, accountId: string, exportId: string): void {
  const api = new Api(app.config);
  const screen = app.screen;
  const heading = h("h1", { tabindex: "-1" }, "Export");
  replace(app.main, heading, h("p", { role: "status" }, "Loading the export…"));
  app.titled(heading, "Export");

  let shown: Export | undefined;
  let list: ExportList | undefined;
  // Report links of the last hand-out, kept in memory only until they expire.
  let reports: { errors?: Link; coverage?: Link } = {};

  const progressSlot = h("p", { class: "progress", "aria-live": "polite" });
  const elapsedSlot = h("p", { class: "muted" });
  const countdownSlot = h("span", {});
  const downloadStatus = h("div", { class: "download-status", role: "status" });
  const retrievalSlot = h("p", {});
  const handoutSlot = h("div", { class: "handouts" });
  const downloadsSlot = h("div", { class: "downloads" });
  // The downloads summary of a revoked export, asked for once (a revoked export's GET counts nothing).
  let downloadsAsked = false;

  /** "3,180 of 3,185 files fetched", with the first and the latest first fetch. */
  const drawDownloads = (e: Export): void => {
    const d = e.downloads;
    const headingId = uid("downloads-heading");
    const heading = h("h3", { id: headingId }, "Files fetched through the links");
    if (!d) {
      replace(
        downloadsSlot,
        heading,
        h("p", { class: "hint" }, e.status === "REVOKED" ? "Loading how many files were fetched…" : "Download file also shows how many of the export's files have been fetched through their links."),
      );
      return;
    }
    const total = e.result?.attachmentCount;
    const fetched = d.filesFetched.toLocaleString("en-US");
    const summary = total === undefined ? `${count(d.filesFetched, "file", "files")} fetched` : `${fetched} of ${total.toLocaleString("en-US")} files fetched`;
    replace(
      downloadsSlot,
      heading,
      h("p", { class: "downloads-summary", id: "downloads-summary" }, summary),
      d.firstAt || d.lastFirstFetchAt
        ? h(
            "dl",
            { class: "details", "aria-labelledby": headingId },
            d.firstAt ? [h("dt", {}, "First fetch"), h("dd", {}, when(d.firstAt))] : null,
            d.lastFirstFetchAt ? [h("dt", {}, "Latest first fetch of a file"), h("dd", {}, when(d.lastFirstFetchAt))] : null,
          )
        : null,
    );
  };

  const loadRevokedDownloads = async (): Promise<void> => {
    if (downloadsAsked || !canRead()) return;
    downloadsAsked = true;
    try {
      const e = await api.get(accountId, exportId);
      if (!screen.active || !shown || shown.status !== "REVOKED") return;
      if (e.downloads) shown.downloads = e.downloads;
      drawDownloads(shown);
    } catch (error) {
      if (!screen.active) return;
      if (error instanceof SessionEndedError) {
        app.ended(error.message);
        return;
      }
      replace(downloadsSlot, h("p", { class: "error", role: "alert" }, error instanceof ApiError ? error.message : "How many files were fetched could not be loaded."));
    }
  };

  const afterRevoke = (reply: RevokeReply): void => {
    if (!screen.active || !shown) return;
    shown = { ...shown, status: "REVOKED", revokedAt: reply.revokedAt, revokedBy: reply.revokedBy };
    delete shown.manifest;
    draw(shown);
    announce("The export's links are revoked.");
    document.getElementById("revoked-heading")?.focus();
    void loadRevokedDownloads();
  };

  const drawHandouts = (handouts: Handout[]): void => {
    if (!handouts.length) return;
    replace(
      handoutSlot,
      h("h3", { id: "handouts-heading" }, "Hand-outs of the download links"),
      h(
        "ol",
        { "aria-labelledby": "handouts-heading", class: "handout-list" },
        handouts.map((x) => h("li", {}, `${when(x.at)}: `, who(x.principal, x.person))),
      ),
    );
  };

  const drawRetrievals = (e: Export): void => {
    const parts = [
      e.retrievals === 0 ? "The file has not been retrieved yet." : `The file has been retrieved ${count(e.retrievals, "time", "times")}.`,
    ];
    if (e.lastRetrievedAt) {
      parts.push(`Last retrieved ${when(e.lastRetrievedAt)}${e.lastRetrievedBy ? ` by ${e.lastRetrievedBy}` : ""}.`);
    }
    replace(retrievalSlot, parts.join(" "));
  };

  const drawProgress = (e: Export): void => {
    const listed = e.progress?.attachmentsListed ?? 0;
    const parts = e.progress?.partsWritten ?? 0;
    replace(
      progressSlot,
      e.status === "QUEUED"
        ? "Queued: the export will start in a moment."
        : `${count(listed, "attachment", "attachments")} listed, ${count(parts, "part", "parts")} of the file written.`,
    );
    const since = Date.parse(e.startedAt ?? e.requestedAt);
    replace(elapsedSlot, `Elapsed: ${elapsed(Date.now() - since)}`);
  };

  const drawCountdown = (e: Export): void => {
    const expires = e.urlsExpireAt ?? e.result?.urlsExpireAt;
    if (!expires) return;
    replace(countdownSlot, `${remaining(Date.parse(expires) - Date.now())} left`);
  };

  const download = async (button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    button.textContent = "Preparing the download…";
    replace(downloadStatus, h("p", {}, "Asking for a download link…"));
    try {
      const e = await api.get(accountId, exportId);
      if (!screen.active) return;
      if (e.status === "REVOKED") {
        // Revoked meanwhile (in another window, or by someone else): nothing to download.
        shown = e;
        draw(e);
        announce("The export's links were revoked: the file can no longer be downloaded.");
        return;
      }
      const manifest = e.manifest;
      if (!manifest) throw new ApiError(500, "", "The export service gave no download link. Try again in a moment.");
      navigateDownload(manifest.url);
      reports = {};
      if (e.errors) reports.errors = e.errors;
      if (e.coverage) reports.coverage = e.coverage;
      shown = { ...(shown ?? e), retrievals: e.retrievals, lastRetrievedAt: e.lastRetrievedAt };
      if (e.lastRetrievedBy) shown.lastRetrievedBy = e.lastRetrievedBy;
      if (e.downloads) shown.downloads = e.downloads;
      drawRetrievals(shown);
      drawHandouts(e.handouts ?? []);
      drawDownloads(shown);
      const ext = manifest.format === "jsonl" ? "JSON Lines" : "CSV";
      const sha = h("code", { class: "sha", id: "manifest-sha256" }, manifest.sha256);
      const reportButtons: HTMLElement[] = [];
      const reportButton = (label: string, link: Link): HTMLElement =>
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: () => {
              if (Date.parse(link.urlExpiresAt) <= Date.now()) {
                announce("This link has expired. Use Download file again.");
                return;
              }
              navigateDownload(link.url);
            },
          },
          label,
        );
      if (reports.errors) {
        reportButtons.push(reportButton(`Download the errors report (${count(reports.errors.rows ?? 0, "row", "rows")})`, reports.errors));
      }
      if (reports.coverage) reportButtons.push(reportButton("Download the coverage report", reports.coverage));
      replace(
        downloadStatus,
        h("p", { class: "success" }, `Your browser is saving the file (${ext}, ${bytes(manifest.bytes ?? 0)}).`),
        dl([
          ["Size", h("span", { id: "manifest-bytes" }, exactBytes(manifest.bytes ?? 0))],
          ["SHA-256", sha],
        ]),
        h("p", { class: "hint" }, "Compare the SHA-256 with the saved file's (for example: sha256sum FILE, or Get-FileHash FILE in PowerShell). The link given to your browser worked for 15 minutes; use Download file again to get a new one."),
        reportButtons.length ? h("div", { class: "actions" }, reportButtons) : null,
      );
      announce("Download started. The file's SHA-256 is shown.");
    } catch (error) {
      if (!screen.active) return;
      if (error instanceof SessionEndedError) {
        app.ended(error.message);
        return;
      }
      replace(downloadStatus, h("p", { class: "error", role: "alert" }, error instanceof ApiError ? error.message : "The download failed unexpectedly. Try again."));
      if (error instanceof ApiError && (error.status === 410 || error.status === 404)) {
        void refresh();
      }
    } finally {
      button.disabled = false;
      button.textContent = "Download file";
    }
  };

  const draw = (e: Export): void => {
    const title = h("h1", { tabindex: "-1" }, `Export requested ${when(e.requestedAt)}`);
    const accountName = list?.account?.name ?? "the account";
    const sections: (HTMLElement | null)[] = [];

    const statusLine = h(
      "p",
      { class: "status-line" },
      "Status: ",
      h("span", { class: `badge status-${e.status.toLowerCase()}`, id: "export-status" }, statusName(e.status)),
    );

    if (e.status === "QUEUED" || e.status === "RUNNING") {
      drawProgress(e);
      sections.push(
        h(
          "section",
          { "aria-labelledby": "progress-heading", class: "card" },
          h("h2", { id: "progress-heading" }, "Progress"),
          progressSlot,
          elapsedSlot,
          h("p", { class: "hint" }, "This page updates by itself every 2 seconds. You may leave it and come back later."),
        ),
      );
    }

    if ((e.status === "SUCCEEDED" || e.status === "SUCCEEDED_WITH_ERRORS") && e.result) {
      const r = e.result;
      const types = Object.entries(r.byConversationType ?? {});
      sections.push(
        h(
          "section",
          { "aria-labelledby": "result-heading", class: "card" },
          h("h2", { id: "result-heading" }, "Result"),
          h("p", {}, `${count(r.attachmentCount, "attachment", "attachments")}, ${bytes(r.totalBytes)} in all.`),
          h(
            "table",
            { class: "totals" },
            h("caption", {}, "Attachments by conversation type"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Conversation type"), h("th", { scope: "col" }, "Files"), h("th", { scope: "col" }, "Size"))),
            h(
              "tbody",
              {},
              types.map(([t, v]) => h("tr", {}, h("th", { scope: "row" }, conversationType(t)), h("td", {}, v.count.toLocaleString("en-US")), h("td", {}, bytes(v.bytes)))),
            ),
            h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, "Total"), h("td", {}, r.attachmentCount.toLocaleString("en-US")), h("td", {}, bytes(r.totalBytes)))),
          ),
          e.status === "SUCCEEDED_WITH_ERRORS"
            ? h(
                "p",
                { class: "warning" },
                h("strong", {}, "Some files could not be included. "),
                `${count(r.errorCount ?? 0, "row is", "rows are")} in the errors report: files that were missing or did not match their record. Download file also offers the errors report.`,
              )
            : null,
        ),
      );
      drawCountdown(e);
      drawRetrievals(e);
      const button = h("button", { type: "button", class: "primary", id: "download-button" }, "Download file");
      button.addEventListener("click", () => void download(button));
      const expires = e.urlsExpireAt ?? r.urlsExpireAt;
      sections.push(
        h(
          "section",
          { "aria-labelledby": "download-heading", class: "card" },
          h("h2", { id: "download-heading" }, "Download"),
          expires ? h("p", {}, `The download links in the file work until ${when(expires)} (`, countdownSlot, ").") : null,
          retrievalSlot,
          handoutSlot,
          h(
            "p",
            { class: "warning" },
            h("strong", {}, "Anyone who gets the file can download every attachment it lists. "),
            "Each download is counted and recorded.",
          ),
          canRead() ? button : h("p", {}, "Your sign-in does not include the RetrieveDataExport permission, so you cannot download the file."),
          downloadStatus,
          downloadsSlot,
        ),
      );
      drawDownloads(e);
      if (holds("RevokeDataExport")) {
        const revoke = h("button", { type: "button", class: "danger", id: "revoke-button" }, "Revoke links");
        revoke.addEventListener("click", () => openRevokeDialog(app, e, () => api.revoke(accountId, e.exportId), afterRevoke, "account"));
        sections.push(
          h(
            "section",
            { "aria-labelledby": "revoke-heading", class: "card" },
            h("h2", { id: "revoke-heading" }, "Revoke links"),
            h(
              "p",
              {},
              "If the file, or any of its links, reached someone it should not have: revoking stops every download link of this export for everyone, within a minute. It cannot be undone.",
            ),
            revoke,
          ),
        );
      }
    }

    if (e.status === "REVOKED") {
      const by = e.revokedBy;
      sections.push(
        h(
          "section",
          { "aria-labelledby": "revoked-heading", class: "card" },
          h("h2", { id: "revoked-heading", tabindex: "-1" }, "The links are revoked"),
          h(
            "p",
            {},
            e.revokedAt
              ? `Every download link of this export (attachments, manifest, reports and statement) stopped working on ${when(e.revokedAt)}. The file can no longer be downloaded.`
              : "Every download link of this export (attachments, manifest, reports and statement) stopped working. The file can no longer be downloaded.",
          ),
          dl([
            ["Revoked", e.revokedAt ? h("span", { id: "revoked-at" }, when(e.revokedAt)) : undefined],
            ["Revoked by", by ? h("span", { id: "revoked-by" }, who(by.principal, by.person)) : undefined],
            ["Attachments", e.result ? `${count(e.result.attachmentCount, "attachment", "attachments")}, ${bytes(e.result.totalBytes)}` : undefined],
          ]),
          h("p", {}, `A new export can be requested ${nextRequest(list)}.`),
          downloadsSlot,
        ),
      );
      drawDownloads(e);
      if (!e.downloads) void loadRevokedDownloads();
    }

    if (e.status === "FAILED") {
      sections.push(
        h(
          "section",
          { "aria-labelledby": "failed-heading", class: "card" },
          h("h2", { id: "failed-heading" }, "The export failed"),
          h("p", { class: "error" }, noUrls(e.error?.message ?? "The export could not be completed.")),
          e.error?.code ? h("p", { class: "muted" }, `Error code: ${e.error.code}`) : null,
          h(
            "p",
            {},
            `The 7-day window was given back: a failed export does not count, so ${accountName} can request a new export ${nextRequest(list)}.`,
          ),
        ),
      );
    }

    if (e.status === "EXPIRED") {
      const expired = e.urlsExpireAt ?? e.result?.urlsExpireAt;
      sections.push(
        h(
          "section",
          { "aria-labelledby": "expired-heading", class: "card" },
          h("h2", { id: "expired-heading" }, "The export has expired"),
          h("p", {}, expired ? `Its download links expired at ${when(expired)}. The file can no longer be downloaded.` : "Its download links have expired. The file can no longer be downloaded."),
          h("p", {}, `A new export can be requested ${nextRequest(list)}.`),
        ),
      );
    }

    replace(
      app.main,
      h("nav", { "aria-label": "Breadcrumb", class: "breadcrumb" }, h("a", { href: accountHref(accountId) }, `Back to ${list?.account?.name ?? "the account"}`)),
      title,
      statusLine,
      h(
        "section",
        { "aria-labelledby": "about-heading", class: "card" },
        h("h2", { id: "about-heading" }, "About this export"),
        dl([
          ["Export ID", h("span", { class: "mono" }, e.exportId)],
          ["Requested", when(e.requestedAt)],
          ["Requested by", who(e.requestedBy.principal, e.requestedBy.person)],
          ["Format", formatName(e.format)],
          ["Files uploaded up to", when(e.cutoff)],
          ["Started", e.startedAt ? when(e.startedAt) : undefined],
          ["Completed", e.completedAt ? when(e.completedAt) : undefined],
        ]),
      ),
      sections,
    );
    app.titled(title, `Export ${statusName(e.status)}`);
  };

  const refresh = async (): Promise<void> => {
    let found: Export | undefined;
    try {
      const r = await find(api, accountId, exportId);
      list = r.list;
      found = r.found;
    } catch (error) {
      if (!screen.active) return;
      if (!shown) renderFailure(app, accountId, error);
      else if (error instanceof SessionEndedError) app.ended(error.message);
      return;
    }
    if (!screen.active) return;
    if (!found) {
      renderFailure(app, accountId, new ApiError(404, "NotFoundException", `Not found: no export ${exportId} exists for account ${accountId}.`));
      return;
    }
    const before = shown;
    shown = found;
    if (!before || before.status !== found.status) {
      draw(found);
      if (before) announce(`The export is now ${statusName(found.status).toLowerCase()}.`);
    } else if (found.status === "QUEUED" || found.status === "RUNNING") {
      drawProgress(found);
    }
  };

  screen.interval(() => {
    if (shown && (shown.status === "QUEUED" || shown.status === "RUNNING")) void refresh();
  }, POLL_MS);
  screen.interval(() => {
    if (!shown) return;
    if (shown.status === "QUEUED" || shown.status === "RUNNING") {
      const since = Date.parse(shown.startedAt ?? shown.requestedAt);
      replace(elapsedSlot, `Elapsed: ${elapsed(Date.now() - since)}`);
    } else if (shown.status === "SUCCEEDED" || shown.status === "SUCCEEDED_WITH_ERRORS") {
      drawCountdown(shown);
    }
  }, 1000);
  void refresh();
}

// --- The revoke confirmation ----------------------------------------------------------------


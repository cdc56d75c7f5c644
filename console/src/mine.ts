// "My attachments": a chat user whom no account manages, signed in through the chat service,
// requests their own files, watches the export, downloads the manifest, revokes its links if it
// went astray, and sees their history.
// The chat service opens #/my-attachments/sign-in?user=<id>&token=<OpenID token>; the router
// drops that address from history at once (replaceState) and hands the token here, which trades
// it for the chat user's credentials (ChatUserConsoleRole: SelfServiceDataExport, principal tag
// chatUserId) and forgets it. Nothing else of the console is open to them.

import type { App } from "./app";
import { announce, h, navigateDownload, replace, uid } from "./dom";
import { Api, ApiError, type Export, type UserExportList } from "./api";
import { CognitoError, chatToken } from "./cognito";
import { openRevokeDialog } from "./revoke-dialog";
import { SessionEndedError, chatSession, establishChatUser, session } from "./session";
import { bytes, count, formatName, noUrls, status as statusName, when } from "./format";

const POLL_MS = 2000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const AGAIN = "Open My attachments from the chat again to sign in.";

/** A page that only says why My attachments cannot be shown (no form: only the chat signs in). */
export function renderChatEnded(app: App, message: string): void {
  const heading = h("h1", { tabindex: "-1" }, "My attachments");
  replace(app.main, heading, h("div", { class: "refusal", role: "alert" }, h("p", {}, message)));
  app.titled(heading, "My attachments");
}

/** The chat service's hand-over: USERID and TOKEN from the address (already dropped from history). */
export async function signInChatUser(app: App, userId: string, token: string): Promise<void> {
  const heading = h("h1", { tabindex: "-1" }, "My attachments");
  replace(app.main, heading, h("p", { role: "status" }, "Signing you in…"));
  app.titled(heading, "My attachments");
  if (!app.config.chatUserIdentityPoolId) {
    renderChatEnded(app, "This console does not offer My attachments.");
    return;
  }
  if (session()) {
    renderChatEnded(app, `You are signed in to the console as an administrator. Sign out first, then ${AGAIN.charAt(0).toLowerCase()}${AGAIN.slice(1)}`);
    return;
  }
  const t = chatToken(token);
  if (!UUID.test(userId) || !t || t.identityPoolId !== app.config.chatUserIdentityPoolId) {
    renderChatEnded(app, `This sign-in link is not valid. ${AGAIN}`);
    return;
  }
  try {
    await establishChatUser(app.config, userId, t.identityId, token);
  } catch (error) {
    if (error instanceof CognitoError && error.code === "NetworkError") renderChatEnded(app, error.message);
    else renderChatEnded(app, `This sign-in link has expired or is not valid. ${AGAIN}`);
    return;
  }
  app.signedIn();
}

function delivered(e: Export): boolean {
  return (e.status === "SUCCEEDED" || e.status === "SUCCEEDED_WITH_ERRORS") && (!e.urlsExpireAt || Date.parse(e.urlsExpireAt) > Date.now());
}

function running(e: Export): boolean {
  return e.status === "QUEUED" || e.status === "RUNNING";
}

export function renderMine(app: App): void {
  const chat = chatSession();
  if (!chat) {
    renderChatEnded(app, `You are not signed in to My attachments. ${AGAIN}`);
    return;
  }
  const userId = chat.userId;
  const api = new Api(app.config);
  const screen = app.screen;
  const heading = h("h1", { tabindex: "-1" }, "My attachments");
  const requestSlot = h("div", {});
  const listSlot = h("div", {});
  const alertSlot = h("div", { role: "alert" });
  const downloadStatus = h("div", { class: "download-status", role: "status" });
  const requestHeading = uid("request-heading");
  const listHeading = uid("list-heading");
  replace(
    app.main,
    heading,
    h(
      "p",
      {},
      "Every file you uploaded to 1:1 and group conversations, in any account, and every file of the rooms you created, whoever uploaded it. Deleted files are not included.",
    ),
    alertSlot,
    h("section", { "aria-labelledby": requestHeading, class: "card" }, h("h2", { id: requestHeading }, "Request your attachments"), requestSlot),
    h("section", { "aria-labelledby": listHeading }, h("h2", { id: listHeading }, "Your exports"), downloadStatus, listSlot),
  );
  app.titled(heading, "My attachments");
  replace(listSlot, h("p", { role: "status" }, "Loading your exports…"));

  let busy = false;

  const fail = (error: unknown): void => {
    if (error instanceof SessionEndedError) {
      app.ended(error.message);
      return;
    }
    replace(alertSlot, h("p", { class: "error" }, error instanceof ApiError ? error.message : "The console failed unexpectedly. Reload the page and try again."));
  };

  const drawRequest = (list: UserExportList): void => {
    const state = list.request;
    if (state && !state.allowed) {
      // The 7-day rule in words with its date; the guidance of a refusal (managed user, Team
      // member, self-service off) as the service wrote it.
      const next = state.nextAllowedAt ?? (state.code === "ThrottledClientException" ? list.nextAllowedAt : undefined);
      const lines = next
        ? [`You have requested your attachments in the last 7 days. One request is accepted every 7 days: the next is possible from ${when(next)}.`]
        : [noUrls(state.message ?? "You cannot request your attachments now.")];
      replace(requestSlot, h("div", { class: "reason", id: "request-refusal" }, lines.map((line) => h("p", {}, line))));
      return;
    }
    const radio = (value: string, label: string, checked: boolean): HTMLElement => {
      const id = uid(`format-${value}`);
      return h("div", { class: "choice" }, h("input", { type: "radio", name: "my-format", id, value, checked }), " ", h("label", { for: id }, label));
    };
    const button = h("button", { type: "submit", class: "primary" }, "Request my attachments");
    const form = h(
      "form",
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          if (busy) return;
          busy = true;
          button.setAttribute("disabled", "");
          const chosen = form.querySelector<HTMLInputElement>('input[name="my-format"]:checked')?.value === "jsonl" ? "jsonl" : "csv";
          api
            .startMine(userId, chosen, crypto.randomUUID())
            .then(() => {
              if (!screen.active) return;
              replace(alertSlot);
              announce("Your request was accepted. The export is being prepared.");
              return load();
            })
            .catch(fail)
            .finally(() => {
              busy = false;
              button.removeAttribute("disabled");
            });
        },
      },
      h("fieldset", {}, h("legend", {}, "File format"), radio("csv", "CSV (opens in a spreadsheet)", true), radio("jsonl", "JSON Lines", false)),
      h("p", { class: "hint" }, "One request is accepted every 7 days. The file's links work for 6 days after the export ends."),
      h("div", { class: "actions" }, button),
    );
    replace(requestSlot, form);
  };

  const download = (e: Export, button: HTMLButtonElement): void => {
    button.setAttribute("disabled", "");
    replace(downloadStatus, h("p", {}, "Preparing your download…"));
    api
      .myExport(userId, e.exportId)
      .then((view) => {
        if (!screen.active) return;
        const url = view.manifest?.url;
        if (!url) {
          replace(downloadStatus, h("p", { class: "error" }, "This export has no file to download."));
          return;
        }
        navigateDownload(url);
        replace(downloadStatus, h("p", { class: "success" }, `Your download has started: the list of your ${count(view.result?.attachmentCount ?? 0, "file", "files")}, each with its download link.`));
      })
      .catch((error: unknown) => {
        replace(downloadStatus);
        fail(error);
      })
      .finally(() => button.removeAttribute("disabled"));
  };

  const card = (e: Export): HTMLElement => {
    const title = `Requested ${when(e.requestedAt)}`;
    const facts: [string, string][] = [["Status", statusName(e.status)], ["Format", formatName(e.format)]];
    if (running(e)) facts.push(["Progress", e.progress ? `${count(e.progress.attachmentsListed, "file", "files")} listed so far` : "Waiting to start"]);
    if (e.result) {
      facts.push(["Files", e.result.attachmentCount.toLocaleString("en-US")]);
      facts.push(["Size", bytes(e.result.totalBytes)]);
    }
    if (e.status === "REVOKED" && e.revokedAt) facts.push(["Links revoked", when(e.revokedAt)]);
    const expires = e.urlsExpireAt ?? e.result?.urlsExpireAt;
    if (expires && e.status !== "REVOKED") facts.push([Date.parse(expires) > Date.now() ? "Links work until" : "Links expired", when(expires)]);
    if (e.error) facts.push(["Why it failed", noUrls(e.error.message)]);
    const titleId = uid("export-title");
    const button = h("button", { type: "button", class: "primary", "aria-describedby": titleId }, "Download file") as HTMLButtonElement;
    button.addEventListener("click", () => download(e, button));
    const revoke = h("button", { type: "button", class: "danger", "aria-describedby": titleId }, "Revoke links") as HTMLButtonElement;
    revoke.addEventListener("click", () =>
      openRevokeDialog(
        app,
        e,
        () => api.revokeMine(userId, e.exportId),
        () => {
          announce("The export's links were revoked.");
          replace(downloadStatus, h("p", { class: "success" }, "The export's links were revoked: none of them works any more."));
          void load().catch(fail);
        },
        "mine",
      ),
    );
    return h(
      "li",
      { class: "export-card", "data-export-id": e.exportId },
      h("h3", { id: titleId }, title),
      h("dl", { class: "details" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      delivered(e) ? h("div", { class: "actions" }, button, revoke) : null,
    );
  };

  const drawList = (list: UserExportList): void => {
    if (list.exports.length === 0) {
      replace(listSlot, h("p", {}, "You have not requested your attachments yet."));
      return;
    }
    replace(listSlot, h("ul", { class: "export-list" }, list.exports.map(card)));
  };

  // Polls while an export runs, and says so once when it ends.
  let wasRunning = false;
  const load = async (): Promise<void> => {
    const list = await api.myExports(userId);
    if (!screen.active) return;
    if (!busy) drawRequest(list);
    drawList(list);
    const now = list.exports.some(running);
    if (wasRunning && !now) announce("Your export has ended.");
    wasRunning = now;
    if (now) screen.timeout(() => void load().catch(fail), POLL_MS);
  };
  load().catch(fail);
}

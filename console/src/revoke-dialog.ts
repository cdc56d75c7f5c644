// The confirmation before revoking an export's links, for an administrator's export page and a
// chat user's My attachments: an alert dialog whose Cancel has the focus (Escape and Cancel close
// it); the destructive confirmation sends the revocation it is given.

import type { App } from "./app";
import { h, replace, uid } from "./dom";
import { ApiError, type Export, type RevokeReply } from "./api";
import { SessionEndedError } from "./session";
import { count, when } from "./format";

/**
 * Asks before revoking: says what stops working, for whom, and that it cannot be undone. Cancel has
 * the focus (Escape and Cancel close it); the destructive confirmation sends the POST .../revoke.
 */
export function openRevokeDialog(
  app: App,
  e: Export,
  send: () => Promise<RevokeReply>,
  done: (reply: RevokeReply) => void,
  whose: "account" | "mine",
): void {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid("revoke-title");
  const descId = uid("revoke-desc");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const confirm = h("button", { type: "submit", class: "danger" }, "Revoke links");
  const errorSlot = h("div", { class: "error-slot" });
  const files = e.result ? ` (${count(e.result.attachmentCount, "attachment", "attachments")})` : "";
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { id: titleId }, "Revoke this export's links?"),
    h(
      "div",
      { id: descId },
      h(
        "p",
        {},
        h("strong", {}, "Every download link of this export — attachments, manifest, reports and statement — stops working within a minute, for everyone who has them; this cannot be undone."),
      ),
      h(
        "ul",
        {},
        h("li", {}, `Export requested ${when(e.requestedAt)}${files}.`),
        whose === "account"
          ? h("li", {}, "Links already copied into spreadsheets, scripts or download tools stop working too. Other exports of the account keep working.")
          : h("li", {}, "Links already copied, and the link the Assistant sent you, stop working too. Your other exports keep working."),
        whose === "account"
          ? h("li", {}, "The export stays in the history, marked Revoked, with who revoked it and when, and how many of its files were fetched.")
          : h("li", {}, "The export stays in your history, marked Revoked."),
      ),
    ),
    errorSlot,
    h("div", { class: "actions" }, cancel, confirm),
  );
  const dialog = h("dialog", { role: "alertdialog", "aria-modal": "true", "aria-labelledby": titleId, "aria-describedby": descId, class: "dialog" }, form);
  document.body.appendChild(dialog);
  let sending = false;

  const close = (): void => {
    if (dialog.open) dialog.close();
  };
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener?.isConnected) opener.focus();
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
    confirm.textContent = "Revoking…";
    replace(errorSlot);
    send()
      .then((reply) => {
        sending = false;
        close();
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
        confirm.textContent = "Revoke links";
        const message = error instanceof ApiError ? error.message : "The revocation failed unexpectedly. Try again.";
        // A refusal (permission, unknown export, nothing to revoke) will not change by retrying.
        confirm.disabled = error instanceof ApiError && [403, 404, 422].includes(error.status);
        replace(errorSlot, h("p", { class: "error", role: "alert" }, message));
        cancel.focus();
      });
  });
  dialog.showModal();
  cancel.focus();
}

// Sign-in security: whether the user's sign-in asks for a code from an authenticator app, and,
// when it does not, setting one up (AssociateSoftwareToken, VerifySoftwareToken and
// SetUserMFAPreference with the user's own access token). In a pool whose MFA is OPTIONAL
// (ConsoleMfa=OPTIONAL) this is how an administrator turns it on for themselves; a pool that
// requires MFA (the template's default) asks at sign-in instead (signin.ts). This page offers no
// way to turn it off: resetting a lost authenticator is the operator's (admin-delete-software-token,
// DEPLOY.md "Requiring MFA").

import type { App, Screen } from "./app";
import { announce, h, replace } from "./dom";
import { associateTotp, preferTotp, signInMessage, usesTotp, verifyTotp } from "./cognito";
import { authenticatorKey, codeForm, isWrongCode } from "./signin";
import { SessionEndedError, accessToken, session } from "./session";

export function renderSecurity(app: App): void {
  const heading = h("h1", { tabindex: "-1" }, "Sign-in security");
  const body = h("div", {}, h("p", { role: "status" }, "Loading…"));
  replace(app.main, h("section", { class: "narrow" }, heading, body));
  app.titled(heading, "Sign-in security");
  const screen = app.screen;
  const failed = (error: unknown): void => {
    if (error instanceof SessionEndedError) {
      app.ended(error.message);
      return;
    }
    replace(body, h("p", { role: "alert", class: "error" }, `Your sign-in settings could not be read. ${signInMessage(error)}`));
  };
  accessToken(app.config)
    .then((token) => usesTotp(app.config, token))
    .then((on) => (screen.active ? showStatus(app, screen, body, on) : undefined))
    .catch(failed);
}

function showStatus(app: App, screen: Screen, body: HTMLElement, on: boolean): void {
  if (on) {
    replace(
      body,
      h(
        "div",
        { class: "card" },
        h("h2", {}, "Two-step sign-in: on"),
        h("p", {}, "Each sign-in asks for a 6-digit code from your authenticator app after your password."),
        h("p", { class: "hint" }, "Lost your phone or app? Ask your operator to reset your two-step sign-in; then set it up again here."),
      ),
    );
    return;
  }
  const start = h("button", { type: "button", class: "primary" }, "Set up an authenticator app");
  start.addEventListener("click", () => {
    start.disabled = true;
    start.textContent = "Getting your secret key…";
    accessToken(app.config)
      .then((token) => associateTotp(app.config, { accessToken: token }))
      .then(({ secret }) => (screen.active ? showSetup(app, screen, body, secret) : undefined))
      .catch((error: unknown) => {
        if (error instanceof SessionEndedError) {
          app.ended(error.message);
          return;
        }
        start.disabled = false;
        start.textContent = "Set up an authenticator app";
        announce(`Your authenticator app could not be set up. ${signInMessage(error)}`);
      });
  });
  replace(
    body,
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Two-step sign-in: off"),
      h(
        "p",
        {},
        "Your sign-in is protected by your password alone. This console can hand out a link to every file of your account: add a second step, a 6-digit code from an authenticator app on your phone or computer (for example Google Authenticator, Microsoft Authenticator, 1Password or Authy).",
      ),
      h("div", { class: "actions" }, start),
    ),
  );
}

function showSetup(app: App, screen: Screen, body: HTMLElement, secret: string): void {
  const username = session()?.claims.username ?? "you";
  const key = authenticatorKey(username, secret);
  screen.onDispose(() => key.forget());
  const form = codeForm({
    hint: "The code your authenticator app now shows for attachment-export.",
    submitLabel: "Verify and turn on",
    title: h("h2", { id: "security-code-heading" }, "Confirm with a code"),
    send: async (code) => {
      const token = await accessToken(app.config);
      await verifyTotp(app.config, { accessToken: token }, code);
      key.forget();
      await preferTotp(app.config, token);
      if (!screen.active) return;
      showStatus(app, screen, body, true);
      announce("Two-step sign-in is on. Your next sign-in asks for a code.");
    },
    retry: (error) => key.held() && isWrongCode(error),
    fail: (error) => {
      key.forget();
      if (error instanceof SessionEndedError) {
        app.ended(error.message);
        return;
      }
      showStatus(app, screen, body, false);
      announce(`Your authenticator app could not be set up. ${signInMessage(error)}`);
    },
  });
  replace(body, key.card, form);
  const first = form.querySelector("input");
  first?.focus();
}

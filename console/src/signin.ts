// Sign in: user name and password, then the first-sign-in new password or a TOTP code if Cognito
// asks for one, or the enrolment of an authenticator app (MFA_SETUP); then the identity pool exchange (one credential set per group).

import type { App } from "./app";
import { h, replace, uid } from "./dom";
import {
  CognitoError,
  type SignInStep,
  answerMfaSetup,
  answerNewPassword,
  answerTotp,
  associateTotp,
  otpauthUri,
  signIn,
  signInMessage,
  verifyTotp,
} from "./cognito";
import { establish } from "./session";

function field(label: string, input: HTMLInputElement, hint?: string): HTMLElement {
  const id = input.id || uid("field");
  input.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), hintEl, input);
}

function errorBox(): { el: HTMLElement; show(message: string): void; hide(): void } {
  const el = h("div", { class: "error-slot" });
  return {
    el,
    show(message: string) {
      replace(el, h("p", { class: "error", role: "alert" }, message));
    },
    hide() {
      replace(el);
    },
  };
}

function busy(button: HTMLButtonElement, on: boolean, label: string): void {
  button.disabled = on;
  button.textContent = label;
}

export function renderSignIn(app: App, notice?: string): void {
  const heading = h("h1", { tabindex: "-1" }, "Sign in");
  const username = h("input", { type: "text", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const errors = errorBox();
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "signin-heading", novalidate: true },
    field("User name", username),
    field("Password", password),
    errors.el,
    h("div", { class: "actions" }, submit),
  );
  heading.id = "signin-heading";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      errors.show("Enter your user name and password.");
      (username.value.trim() ? password : username).focus();
      return;
    }
    errors.hide();
    busy(submit, true, "Signing in…");
    signIn(app.config, username.value.trim(), password.value)
      .then((step) => next(app, step))
      .catch((error: unknown) => {
        busy(submit, false, "Sign in");
        password.value = "";
        errors.show(signInMessage(error));
        password.focus();
      });
  });
  replace(
    app.main,
    h(
      "section",
      { class: "narrow" },
      heading,
      notice ? h("p", { class: "notice", role: "status" }, notice) : null,
      h("p", {}, "Sign in with the user name and password your operator gave you. Only administrators of an Enterprise chat account can use this console."),
      form,
    ),
  );
  app.titled(heading, "Sign in");
  if (notice) username.focus();
}

function next(app: App, step: SignInStep): void {
  switch (step.kind) {
    case "done":
      finish(app, step.tokens);
      return;
    case "newPassword":
      renderNewPassword(app, step.session, step.username);
      return;
    case "totp":
      renderTotp(app, step.session, step.username);
      return;
    case "mfaSetup":
      renderMfaSetup(app, step.session, step.username);
      return;
    default:
      renderSignIn(app, `This sign-in needs a step the console does not support (${step.challenge}). Ask your operator.`);
  }
}

function finish(app: App, tokens: Parameters<typeof establish>[1]): void {
  const heading = h("h1", { tabindex: "-1" }, "Signing in…");
  replace(app.main, h("section", { class: "narrow" }, heading, h("p", { role: "status" }, "Getting your credentials…")));
  app.titled(heading, "Signing in");
  establish(app.config, tokens)
    .then(() => app.signedIn())
    .catch((error: unknown) => renderSignIn(app, `Your credentials could not be obtained. ${signInMessage(error)}`));
}

function renderNewPassword(app: App, session: string, username: string): void {
  const heading = h("h1", { tabindex: "-1" }, "Choose a new password");
  const pw = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: "14" });
  const again = h("input", { type: "password", autocomplete: "new-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Set password and sign in");
  const errors = errorBox();
  const form = h(
    "form",
    { class: "card", novalidate: true },
    field("New password", pw, "At least 14 characters, with upper-case and lower-case letters, a number and a symbol."),
    field("Repeat the new password", again),
    errors.el,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (pw.value.length < 14) {
      errors.show("The new password must have at least 14 characters.");
      pw.focus();
      return;
    }
    if (pw.value !== again.value) {
      errors.show("The two passwords are not the same. Type the new password twice.");
      again.focus();
      return;
    }
    errors.hide();
    busy(submit, true, "Setting your password…");
    answerNewPassword(app.config, session, username, pw.value)
      .then((step) => next(app, step))
      .catch((error: unknown) => {
        busy(submit, false, "Set password and sign in");
        errors.show(signInMessage(error));
        pw.focus();
      });
  });
  replace(
    app.main,
    h(
      "section",
      { class: "narrow" },
      heading,
      h("p", {}, "This is your first sign-in with a temporary password. Choose your own password to continue."),
      form,
    ),
  );
  app.titled(heading, "Choose a new password");
}

/** The 6-digit code form of both TOTP steps: checks the format, shows progress while `send` runs,
 * and after an error `retry` accepts, clears the code and lets the user try again; any other
 * error goes to `fail`. */
export function codeForm(opts: {
  hint: string;
  submitLabel: string;
  title?: HTMLElement;
  send: (code: string) => Promise<void>;
  retry: (error: unknown) => boolean;
  fail: (error: unknown) => void;
}): HTMLFormElement {
  const code = h("input", {
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: "6",
    required: true,
  });
  const submit = h("button", { type: "submit", class: "primary" }, opts.submitLabel);
  const errors = errorBox();
  const form = h(
    "form",
    opts.title ? { class: "card", novalidate: true, "aria-labelledby": opts.title.id } : { class: "card", novalidate: true },
    opts.title ?? null,
    field("6-digit code", code, opts.hint),
    errors.el,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = code.value.replace(/\s+/g, "");
    if (!/^\d{6}$/.test(value)) {
      errors.show("Enter the 6 digits your authenticator app shows.");
      code.focus();
      return;
    }
    errors.hide();
    busy(submit, true, "Verifying…");
    opts.send(value).catch((error: unknown) => {
      if (!opts.retry(error)) {
        opts.fail(error);
        return;
      }
      busy(submit, false, opts.submitLabel);
      code.value = "";
      errors.show(signInMessage(error));
      code.focus();
    });
  });
  return form;
}

function renderTotp(app: App, session: string, username: string): void {
  const heading = h("h1", { tabindex: "-1" }, "Enter your authentication code");
  const form = codeForm({
    hint: "The code your authenticator app shows for this console.",
    submitLabel: "Verify",
    send: (code) => answerTotp(app.config, session, username, code).then((step) => next(app, step)),
    retry: () => true,
    fail: () => undefined,
  });
  replace(app.main, h("section", { class: "narrow" }, heading, h("p", {}, "Your sign-in is protected with multi-factor authentication."), form));
  app.titled(heading, "Authentication code");
}

/** The name authenticator apps show above the code (the otpauth issuer). */
const TOTP_ISSUER = "attachment-export";

/** MFA_SETUP: the user pool requires MFA (or the user chose it) and this user has no authenticator
 * yet. The secret key is shown on this step only: once the code is verified it leaves the page
 * and the closure; it is never logged. */
function renderMfaSetup(app: App, firstSession: string, username: string): void {
  const heading = h("h1", { tabindex: "-1" }, "Set up your authenticator app");
  const status = h("p", { role: "status" }, "Getting your secret key…");
  replace(app.main, h("section", { class: "narrow" }, heading, status));
  app.titled(heading, "Set up your authenticator app");
  associateTotp(app.config, { session: firstSession })
    .then(({ secret, session }) => showMfaSetup(app, heading, secret, session ?? firstSession, username))
    .catch((error: unknown) => renderSignIn(app, `Your authenticator app could not be set up. ${signInMessage(error)}`));
}

/** The card that shows a new authenticator's secret key (grouped for reading) and its
 * otpauth:// link. `forget` clears both from the page and the closure. */
export function authenticatorKey(username: string, secretKey: string): { card: HTMLElement; forget(): void; held(): boolean } {
  let secret = secretKey;
  const grouped = (secret.toUpperCase().match(/.{1,4}/g) ?? [secret]).join(" ");
  const secretEl = h("code", { class: "secret", id: "totp-secret" }, grouped);
  const uri = h("input", { type: "text", readonly: true, class: "mono", spellcheck: "false", autocomplete: "off" });
  uri.value = otpauthUri(TOTP_ISSUER, username, secret); // the property, not an attribute: gone when cleared
  uri.addEventListener("focus", () => uri.select());
  const uriId = uid("field");
  uri.id = uriId;
  const card = h(
    "div",
    { class: "card" },
    h("h2", {}, "Add this console to your app"),
    h("p", {}, "In your authenticator app, add an account and enter this secret key (the spaces are only for reading):"),
    h("p", { class: "secret-key" }, secretEl),
    h("div", { class: "field" }, h("label", { for: uriId }, "Or, if your app accepts a setup link, copy this one"), uri),
    h("p", { class: "hint" }, "Keep the key to yourself: anyone who has it can make your codes."),
  );
  return {
    card,
    forget() {
      secret = "";
      secretEl.textContent = "";
      uri.value = "";
    },
    held: () => secret !== "",
  };
}

/** A wrong code (moto and Cognito name it differently): the user may try again. */
export function isWrongCode(error: unknown): boolean {
  return error instanceof CognitoError && (error.code === "CodeMismatchException" || error.code === "EnableSoftwareTokenMFAException");
}

function showMfaSetup(app: App, heading: HTMLElement, secretKey: string, session: string, username: string): void {
  const key = authenticatorKey(username, secretKey);
  const form = codeForm({
    hint: "The code your authenticator app now shows for attachment-export.",
    submitLabel: "Verify and sign in",
    title: h("h2", { id: "mfa-setup-code-heading" }, "Confirm with a code"),
    send: (code) =>
      verifyTotp(app.config, { session }, code)
        .then((verified) => {
          key.forget();
          return answerMfaSetup(app.config, verified ?? session, username);
        })
        .then((step) => next(app, step)),
    // A wrong code may be tried again while the secret is still on the page.
    retry: (error) => key.held() && isWrongCode(error),
    fail: (error) => {
      key.forget();
      renderSignIn(app, `Your authenticator app could not be set up. ${signInMessage(error)}`);
    },
  });
  replace(
    app.main,
    h(
      "section",
      { class: "narrow" },
      heading,
      h(
        "p",
        {},
        "Your sign-in must be protected with a second step: a 6-digit code from an authenticator app on your phone or computer (for example Google Authenticator, Microsoft Authenticator, 1Password or Authy). Set it up once now; the console then asks for a code at each sign-in.",
      ),
      key.card,
      form,
    ),
  );
  heading.focus();
}

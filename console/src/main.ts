// The administrator's console: hash routes
//   #/                                    → the signed-in user's own account
//   #/accounts/<accountId>                → the account page (details, Account actions, Data exports)
//   #/accounts/<accountId>/exports/<id>   → one export (progress, result, Download file)

import "./app.css";
import { type Config, loadConfig } from "./config";
import { h, replace, announce } from "./dom";
import { session, signOut, SessionEndedError } from "./session";
import { renderSignIn } from "./signin";
import { renderAccount } from "./account";
import { renderExport } from "./export";
import { renderSecurity } from "./security";

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

/** Timers and listeners of the current screen; cleared on every navigation. */
export class Screen {
  private timers: number[] = [];
  private cleanups: (() => void)[] = [];
  private alive = true;
  interval(fn: () => void, ms: number): void {
    this.timers.push(window.setInterval(() => this.alive && fn(), ms));
  }
  timeout(fn: () => void, ms: number): void {
    this.timers.push(window.setTimeout(() => this.alive && fn(), ms));
  }
  get active(): boolean {
    return this.alive;
  }
  /** Runs FN when the user leaves the screen (e.g. to clear a secret from memory). */
  onDispose(fn: () => void): void {
    this.cleanups.push(fn);
  }
  dispose(): void {
    this.alive = false;
    for (const fn of this.cleanups.splice(0)) fn();
    for (const t of this.timers) {
      window.clearInterval(t);
      window.clearTimeout(t);
    }
    this.timers = [];
  }
}

export interface App {
  config: Config;
  main: HTMLElement;
  screen: Screen;
  navigate(hash: string): void;
  /** Puts the page's heading in focus and sets the document title. */
  titled(heading: HTMLElement, title: string): void;
  /** The session ended (expired credentials): back to sign-in with a message. */
  ended(message: string): void;
  signedIn(): void;
}

let app: App | undefined;
let pendingHash: string | undefined;

function renderSession(a: App): void {
  const slot = document.getElementById("session");
  if (!slot) return;
  const s = session();
  if (!s) {
    replace(slot);
    return;
  }
  const own = s.claims.chatAccountId;
  replace(
    slot,
    h(
      "nav",
      { "aria-label": "Session", class: "session-nav" },
      h("span", { class: "who" }, "Signed in as ", h("strong", {}, s.claims.username)),
      own ? h("a", { href: accountHref(own) }, "Your account") : null,
      h("a", { href: SECURITY_HREF }, "Sign-in security"),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => {
            void doSignOut(a, "You have signed out. Your credentials were forgotten.");
          },
        },
        "Sign out",
      ),
    ),
  );
}

async function doSignOut(a: App, message: string): Promise<void> {
  a.screen.dispose();
  await signOut(a.config);
  pendingHash = undefined;
  renderSession(a);
  if (location.hash !== "" && location.hash !== "#/") history.replaceState(null, "", "#/");
  a.screen = new Screen();
  renderSignIn(a, message);
}

function route(a: App): void {
  a.screen.dispose();
  a.screen = new Screen();
  renderSession(a);
  const s = session();
  if (!s) {
    if (location.hash && location.hash !== "#/") pendingHash = location.hash;
    renderSignIn(a);
    return;
  }
  const r = parseRoute(location.hash);
  const own = s.claims.chatAccountId;
  if (r.kind === "home") {
    if (own) {
      history.replaceState(null, "", accountHref(own));
      renderAccount(a, own);
    } else {
      const heading = h("h1", { tabindex: "-1" }, "No account");
      replace(
        a.main,
        heading,
        h("p", {}, "Your sign-in is not linked to a chat account. Ask your operator to set your account."),
      );
      a.titled(heading, "No account");
    }
    return;
  }
  if (r.kind === "account" && r.accountId) {
    renderAccount(a, r.accountId);
    return;
  }
  if (r.kind === "security") {
    renderSecurity(a);
    return;
  }
  if (r.kind === "export" && r.accountId && r.exportId) {
    renderExport(a, r.accountId, r.exportId);
    return;
  }
  const heading = h("h1", { tabindex: "-1" }, "Page not found");
  replace(
    a.main,
    heading,
    h("p", {}, "This address does not name a page of the console."),
    own ? h("p", {}, h("a", { href: accountHref(own) }, "Go to your account")) : null,
  );
  a.titled(heading, "Page not found");
}

async function start(): Promise<void> {
  const main = document.getElementById("main");
  if (!main) return;
  const skip = document.querySelector<HTMLAnchorElement>(".skip-link");
  skip?.addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  let config: Config;
  try {
    config = await loadConfig();
  } catch (error) {
    const heading = h("h1", { tabindex: "-1" }, "The console cannot start");
    replace(main, heading, h("p", { role: "alert" }, error instanceof Error ? error.message : "Its configuration is missing."));
    return;
  }
  const a: App = {
    config,
    main,
    screen: new Screen(),
    navigate(hash: string) {
      if (location.hash === hash) route(a);
      else location.hash = hash;
    },
    titled(heading: HTMLElement, title: string) {
      document.title = `${title} · Attachment export console`;
      heading.focus({ preventScroll: false });
    },
    ended(message: string) {
      void doSignOut(a, message);
    },
    signedIn() {
      const target = pendingHash;
      pendingHash = undefined;
      if (target && target !== location.hash) location.hash = target;
      else route(a);
      announce("Signed in.");
    },
  };
  app = a;
  window.addEventListener("hashchange", () => route(a));
  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason instanceof SessionEndedError) a.ended(event.reason.message);
  });
  route(a);
}

export function currentApp(): App | undefined {
  return app;
}

void start();

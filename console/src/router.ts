// Which screen the current address shows (routes.ts names the addresses): sign-in while no one is
// signed in (keeping the address asked for until they are), then the account, export or
// Sign-in security page; also the header's session links and Sign out. createApp makes the App
// that every screen is handed (app.ts).

import type { Config } from "./config";
import { type App, Screen } from "./app";
import { h, replace, announce } from "./dom";
import { accountHref, MY_ATTACHMENTS_HREF, parseRoute, SECURITY_HREF } from "./routes";
import { chatSession, forgetChatUser, session, signOut } from "./session";
import { renderSignIn } from "./signin";
import { renderAccount } from "./account";
import { renderExport } from "./export";
import { renderSecurity } from "./security";
import { renderChatEnded, renderMine, signInChatUser } from "./mine";

/** The address asked for before signing in, shown once the user has signed in. */
let pendingHash: string | undefined;

function renderSession(a: App): void {
  const slot = document.getElementById("session");
  if (!slot) return;
  const s = session();
  if (!s && chatSession()) {
    replace(
      slot,
      h(
        "nav",
        { "aria-label": "Session", class: "session-nav" },
        h("span", { class: "who" }, "Signed in from the chat"),
        h("a", { href: MY_ATTACHMENTS_HREF }, "My attachments"),
        h("button", { type: "button", class: "secondary", onclick: () => void doSignOut(a, "You have signed out of My attachments. Your credentials were forgotten.") }, "Sign out"),
      ),
    );
    return;
  }
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
  // A chat user goes back to the chat, never to the administrators' sign-in form.
  const chatUser = !session() && chatSession() !== undefined;
  await signOut(a.config);
  pendingHash = undefined;
  renderSession(a);
  a.screen = new Screen();
  if (chatUser || (!session() && parseRoute(location.hash).kind === "mine")) {
    if (location.hash !== MY_ATTACHMENTS_HREF) history.replaceState(null, "", MY_ATTACHMENTS_HREF);
    renderChatEnded(a, chatUser ? message : `${message} Open My attachments from the chat again to sign in.`);
    return;
  }
  if (location.hash !== "" && location.hash !== "#/") history.replaceState(null, "", "#/");
  renderSignIn(a, message);
}

/** Shows the screen of the current address (location.hash), disposing of the previous one. */
export function route(a: App): void {
  a.screen.dispose();
  a.screen = new Screen();
  const r = parseRoute(location.hash);
  if (r.kind === "mineSignIn") {
    // The chat service's token must not stay in the address bar or history: drop it first. A
    // new hand-over is for whoever the chat says now: an earlier chat user's credentials go.
    history.replaceState(null, "", MY_ATTACHMENTS_HREF);
    forgetChatUser();
    renderSession(a);
    void signInChatUser(a, r.userId ?? "", r.token ?? "");
    return;
  }
  renderSession(a);
  if (chatSession() && !session()) {
    // A chat user sees My attachments only.
    if (r.kind !== "mine") history.replaceState(null, "", MY_ATTACHMENTS_HREF);
    renderMine(a);
    return;
  }
  if (r.kind === "mine" && !session()) {
    renderChatEnded(a, "You are not signed in to My attachments. Open My attachments from the chat again to sign in.");
    return;
  }
  const s = session();
  if (!s) {
    if (location.hash && location.hash !== "#/") pendingHash = location.hash;
    renderSignIn(a);
    return;
  }
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

/** The App the screens are rendered into: CONFIG, and MAIN, the page's main element. */
export function createApp(config: Config, main: HTMLElement): App {
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
  return a;
}

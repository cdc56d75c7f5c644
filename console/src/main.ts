// The console's entry point (esbuild bundles from here): loads config.json, makes the App and
// shows the screen of the current address, again on every hashchange. Nothing imports this
// module (tests/no-import-cycles.mjs checks it): routes.ts names the addresses, router.ts shows
// their screens, app.ts is what the screens are handed.

import "./app.css";
import { type Config, loadConfig } from "./config";
import { h, replace } from "./dom";
import { SessionEndedError } from "./session";
import { createApp, route } from "./router";

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
  const a = createApp(config, main);
  window.addEventListener("hashchange", () => route(a));
  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason instanceof SessionEndedError) a.ended(event.reason.message);
  });
  route(a);
}

void start();

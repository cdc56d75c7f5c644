// What every screen is handed: the App (configuration, the page's main element, the current
// Screen, and how to navigate, title the page, end the session or finish signing in) and the
// Screen, whose timers and listeners die with it. router.ts makes the App; screens only use it.

import type { Config } from "./config";

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

// Playwright drives Debian's Chromium (/usr/bin/chromium, installed by infra/local/install.sh)
// against the running local stack: CONSOLE_URL and the rest come from .local/stack.env
// (console/run-tests.sh sources it). Each test seeds its own accounts and console users.
import { defineConfig } from "@playwright/test";

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** @screenshots and @demo, less the one the command line greps for (or SCREENSHOTS=1). */
function excludedTags(): RegExp | undefined {
  const args = process.argv.join(" ");
  const excluded = ["@screenshots", "@demo"].filter((tag) => !args.includes(tag) && !(tag === "@screenshots" && process.env.SCREENSHOTS));
  return excluded.length ? new RegExp(excluded.join("|")) : undefined;
}

export default defineConfig({
  testDir: "tests",
  testMatch: /.*\.spec\.ts$/,
  // Tagged tests run only when asked for by their tag: @screenshots by `make screenshots`
  // (SCREENSHOTS=1, --grep @screenshots), @demo by `make demo` (--grep @demo).
  grepInvert: excludedTags(),
  fullyParallel: false,
  workers: Number(process.env.CONSOLE_TEST_WORKERS ?? 1),
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: process.env.CONSOLE_URL,
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
  },
});

// Playwright drives Debian's Chromium (/usr/bin/chromium, installed by infra/local/install.sh)
// against the running local stack: CONSOLE_URL and the rest come from .local/stack.env
// (console/run-tests.sh sources it). Each test seeds its own accounts and console users.
import { defineConfig } from "@playwright/test";

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "tests",
  testMatch: /.*\.spec\.ts$/,
  // Screenshots are taken only by `make screenshots` (--grep @screenshots).
  grepInvert: process.env.SCREENSHOTS ? undefined : /@screenshots/,
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

/**
 * End-to-end harness: a throwaway local stack (wrangler dev + embedded Postgres on free ports,
 * temporary data directories) and Debian's headless Chromium driven by playwright-core.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { freePort } from "../../scripts/local-db";
import { ROOT, type Stack, startLocalStack } from "../../scripts/stack";
import { LOCAL_DEV_JWT_SECRET } from "../../src/config";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM_PATH);
export const ARTIFACTS = join(ROOT, "test-artifacts", "e2e");
export const PASSWORD = "correct horse battery staple";

/** The stack with everything it wrote removed on stop. */
export async function startE2eStack(): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "mg-e2e-"));
  let stack: Stack;
  try {
    stack = await startLocalStack({
      port: await freePort(),
      dataDir: join(dir, "pglite"),
      persistTo: join(dir, "state"),
      // Its own embedded database, also when TEST_DATABASE_URL is set: the typo and ranking checks
      // need the seeded catalog as it is, not as other suites left a shared database.
      databaseUrl: undefined,
      log: () => {},
      verbose: process.env.E2E_VERBOSE === "1",
      // The secret the tests sign developer tokens with, whatever the environment says.
      vars: {
        JWT_SECRET: LOCAL_DEV_JWT_SECRET,
        OUTBOX_LINGER_MS: "50",
        DEVICE_OFFLINE_SECONDS: "30",
        // Every browser of the suite signs in from 127.0.0.1: one address, many users.
        AUTH_IP_BURST: "200",
      },
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...stack,
    stop: async () => {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium; Playwright gives it a fresh temporary --user-data-dir and removes it on close. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A browser profile of its own (storage, cookies) at a laptop-sized viewport. Script errors and
 * 5xx answers are collected: a test fails on any of them.
 */
export async function newProfile(browser: Browser, baseURL: string) {
  const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 900 }, colorScheme: "dark" });
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on("pageerror", (error) => errors.push(`${page.url()}: ${error.message}`));
    page.on("console", (message) => {
      // Chromium logs every 4xx as "Failed to load resource"; refusals the page handles are not errors.
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
        errors.push(`console: ${message.text()}`);
      }
    });
    // A 5xx is never the expected answer to anything the page does.
    page.on("response", (response) => {
      if (response.status() >= 500)
        errors.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    });
  };
  context.on("page", watch);
  return { context, errors };
}

/** The whole page, or only the viewport (for an open dialog, whose backdrop covers the viewport). */
export async function screenshot(page: Page, name: string, { fullPage = true } = {}): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/** Which parts of the API the server has, from its OpenAPI document. */
export async function serverFeatures(baseUrl: string) {
  const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  const has = (path: string) => path in doc.paths;
  return {
    accounts: has("/api/v1/auth/login"),
    search: has("/api/v1/search") && has("/api/v1/autocomplete"),
    content: has("/api/v1/content/{id}"),
    watchlist: has("/api/v1/sync/watchlist/{content_id}"),
    devices: has("/api/v1/devices"),
    live: has("/api/v1/sync/ws"),
    recommendations: has("/api/v1/recommendations"),
    nextUp: has("/api/v1/next-up"),
  };
}

/** A token minted in Node, for servers without accounts yet: the page takes it like a pasted one. */
export function devToken(sub: string): Promise<string> {
  return new SignJWT({ role: "user" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(LOCAL_DEV_JWT_SECRET));
}

/**
 * Opens the client and signs in as a new user: through "Create account" when the server has
 * accounts, else with a developer token. Returns when the signed-in view is up.
 */
export async function signInNewUser(page: Page, accounts: boolean, name: string): Promise<{ email: string | null }> {
  await page.goto("/");
  await page.locator("body:not(.is-loading)").waitFor();
  const unique = `${name}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const email = accounts ? `${unique}@example.com` : null;
  if (email) {
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
  } else {
    const field = page.getByLabel("Access token");
    if (!(await field.isVisible())) await page.getByText("Developer: sign in with an access token").click();
    await field.fill(await devToken(unique));
    await page.getByRole("button", { name: "Use this token" }).click();
  }
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  return { email };
}

export type { Browser, BrowserContext, Page };

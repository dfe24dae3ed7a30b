/**
 * Households in a real browser against the whole local stack: choosing who is watching (with a
 * PIN), a kids profile that never shows what its limit hides, and a TV signed in by a code that
 * a phone approves in another browser context.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { allowsRating, limitOf } from "../../src/domain/maturity";
import {
  type Browser,
  type BrowserContext,
  CHROMIUM_PATH,
  hasChromium,
  launchChromium,
  newProfile,
  PASSWORD,
  type Page,
  screenshot,
  serverFeatures,
  signInNewUser,
  startE2eStack,
} from "./harness";

const G = limitOf("G", false);

describe.skipIf(!hasChromium)(`households in headless Chromium (${CHROMIUM_PATH})`, () => {
  let stack: Awaited<ReturnType<typeof startE2eStack>>;
  let browser: Browser;
  let households = false;
  let profiles: { context: BrowserContext; errors: string[] }[] = [];

  beforeAll(async () => {
    stack = await startE2eStack();
    browser = await launchChromium();
    const features = await serverFeatures(stack.baseUrl);
    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    households = features.accounts && "/api/v1/profiles" in doc.paths && "/api/v1/auth/device/code" in doc.paths;
  }, 180_000);

  afterEach(async () => {
    for (const profile of profiles) await profile.context.close();
    profiles = [];
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  async function freshPage(): Promise<Page> {
    const profile = await newProfile(browser, stack.baseUrl);
    profiles.push(profile);
    return profile.context.newPage();
  }

  const expectNoPageErrors = () => expect(profiles.flatMap((p) => p.errors)).toEqual([]);

  /** The content ids the page shows anywhere: cards, results, suggestions, TV lists. */
  const shownIds = (page: Page) =>
    page.evaluate(() => [
      ...new Set(
        Array.from(document.querySelectorAll<HTMLElement>("[data-content-id]"), (el) => el.dataset.contentId ?? ""),
      ),
    ]);

  /** Each id's rating, asked of the API without a token (anonymous callers see the whole catalog). */
  async function ratings(ids: readonly string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (const id of ids) {
      const res = await fetch(`${stack.baseUrl}/api/v1/content/${encodeURIComponent(id)}`);
      out.set(id, res.ok ? ((await res.json()) as { maturity_rating: string | null }).maturity_rating : null);
    }
    return out;
  }

  async function expectOnlyAllowedUnderG(page: Page) {
    const ids = await shownIds(page);
    const byId = await ratings(ids);
    const above = ids.filter((id) => !allowsRating(G, byId.get(id)));
    expect(above, `shown above G: ${above.map((id) => `${id} (${byId.get(id)})`).join(", ")}`).toEqual([]);
    return ids.length;
  }

  async function addProfileInDialog(page: Page, name: string, limit: string | null, pin?: string) {
    await page.locator("#new-profile-name").fill(name);
    if (limit) await page.locator("#new-profile-limit").selectOption(limit);
    if (pin) await page.locator("#new-profile-pin").fill(pin);
    await page.getByRole("button", { name: "Add profile" }).click();
    await expect.poll(() => page.locator(`#profiles-list [data-profile-id] input[value="${name}"]`).count()).toBe(1);
  }

  async function search(page: Page, text: string) {
    const box = page.getByRole("combobox", { name: "Search films and series" });
    await box.fill(text);
    await box.press("Enter");
    await expect.poll(() => page.locator("#results").getAttribute("aria-busy")).toBeNull();
    await expect.poll(() => page.locator("#results").isVisible()).toBe(true);
  }

  test("after sign-in, a household picks who is watching; a PIN profile asks its PIN", async (ctx) => {
    ctx.skip(!households, "this server has no households yet");
    const page = await freshPage();
    const { email } = await signInNewUser(page, true, "household");
    // The owner manages the profiles.
    await page.getByRole("button", { name: "Profiles", exact: true }).click();
    await addProfileInDialog(page, "Kids", "G");
    await addProfileInDialog(page, "Grown-up", null, "2468");
    await screenshot(page, "h1-manage-profiles", { fullPage: false });
    await page.getByRole("button", { name: "Done" }).click();

    // Signing in again asks who is watching.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Email").fill(email as string);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect.poll(() => page.getByRole("heading", { name: "Who's watching?" }).isVisible()).toBe(true);
    const tiles = page.locator("#profile-picker-list .profile-tile");
    await expect.poll(() => tiles.count()).toBe(3);
    await screenshot(page, "h2-who-is-watching");
    await page.getByRole("button", { name: /^Kids,/ }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await expect.poll(() => page.locator("#profile-name").textContent()).toBe("Kids");
    expect(await page.locator("#profile-limit").textContent()).toContain("G");
    // Only the owner manages profiles.
    expect(await page.getByRole("button", { name: "Profiles", exact: true }).isVisible()).toBe(false);

    // From the kids profile, the grown-up's profile needs its PIN.
    await page.getByRole("button", { name: "Switch profile" }).click();
    await page.getByRole("button", { name: /^Grown-up \(PIN\)/ }).click();
    const pin = page.locator("#pin-input");
    await pin.fill("1111");
    await page.getByRole("button", { name: "Enter", exact: true }).click();
    await expect.poll(() => page.locator("#pin-error").textContent()).toBe("That PIN is not correct.");
    await screenshot(page, "h3-pin", { fullPage: false });
    await pin.fill("2468");
    await page.getByRole("button", { name: "Enter", exact: true }).click();
    await expect.poll(() => page.locator("#profile-name").textContent()).toBe("Grown-up");
    expect(await page.locator("#profile-limit").textContent()).toBe("");
    expectNoPageErrors();
  });

  test("a kids profile never shows a restricted title: rows, search, suggestions, catalog", async (ctx) => {
    ctx.skip(!households, "this server has no households yet");
    const page = await freshPage();
    await signInNewUser(page, true, "kids");
    const kids = await page.evaluate(async () => {
      const res = await fetch("/api/v1/profiles", {
        method: "POST",
        headers: {
          authorization: `Bearer ${localStorage.getItem("mg.access_token")}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ name: "Kids", maturity_limit: "G" }),
      });
      return res.json();
    });
    await page.getByRole("button", { name: "Switch profile" }).click();
    await page.getByRole("button", { name: /^Kids,/ }).click();
    await expect.poll(() => page.locator("#profile-name").textContent()).toBe("Kids");
    expect(kids.maturity_limit).toBe("G");
    // The rows of the home page.
    await expect.poll(() => page.locator("#row-popular .title-card").count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator("#row-recommendations .title-card").count()).toBeGreaterThan(0);
    expect(await expectOnlyAllowedUnderG(page)).toBeGreaterThan(5);
    // Search: The Matrix (R) is not found; Toy Story (G) is.
    await search(page, "the matrix");
    expect(await page.locator("#results").textContent()).not.toContain("The Matrix");
    await expectOnlyAllowedUnderG(page);
    await search(page, "toy story");
    await expect
      .poll(() => page.locator('#results [data-content-id="film-toy-story-1995"]').count())
      .toBeGreaterThan(0);
    await expectOnlyAllowedUnderG(page);
    await screenshot(page, "h4-kids-search");
    // Suggestions as the kid types.
    const box = page.getByRole("combobox", { name: "Search films and series" });
    await box.fill("the ma");
    await expect.poll(() => page.locator("#search-suggestions").isVisible()).toBe(true);
    const suggested = await page.locator("#search-suggestions").textContent();
    expect(suggested).not.toContain("The Matrix");
    expect(await page.content()).not.toContain("The Matrix");
    expectNoPageErrors();
  });

  test("a TV shows a code, a phone in another browser approves it, and the TV is signed in as the chosen profile", async (ctx) => {
    ctx.skip(!households, "this server has no households yet");
    const tv = await freshPage();
    await tv.goto("/tv");
    const code = tv.locator("#tv-user-code");
    await expect.poll(() => code.textContent()).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(await tv.locator("#tv-verification").textContent()).toBe(`${stack.baseUrl}/activate`);
    await screenshot(tv, "h5-tv-code");

    const phone = await freshPage();
    await signInNewUser(phone, true, "phone");
    await phone.evaluate(async () => {
      await fetch("/api/v1/profiles", {
        method: "POST",
        headers: {
          authorization: `Bearer ${localStorage.getItem("mg.access_token")}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ name: "Kids", maturity_limit: "G" }),
      });
    });
    await phone.getByRole("link", { name: "Activate a TV" }).click();
    await phone.getByLabel("Code on the TV").fill((await code.textContent()) as string);
    await phone.getByLabel("Who watches on this TV?").selectOption({ label: "Kids (up to G)" });
    await phone.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => phone.locator("#activate-result").textContent()).toContain("signing in as Kids");
    await screenshot(phone, "h6-activate");

    // The TV polls at its interval and signs in by itself.
    await expect.poll(() => tv.locator("#tv-profile").textContent(), { timeout: 20_000 }).toBe("Kids");
    await expect.poll(() => tv.locator("#tv-titles [data-content-id]").count()).toBe(12);
    expect(await tv.locator("#tv-limit").textContent()).toContain("G");
    const ids = await shownIds(tv);
    const byId = await ratings(ids);
    expect(ids.filter((id) => !allowsRating(G, byId.get(id)))).toEqual([]);
    await screenshot(tv, "h7-tv-signed-in");
    // The TV's tokens are the kid's, in a family of their own.
    const me = await tv.evaluate(async () => {
      const res = await fetch("/api/v1/me", {
        headers: { authorization: `Bearer ${localStorage.getItem("mg.access_token")}` },
      });
      return res.json();
    });
    expect(me).toMatchObject({ is_owner: false, maturity_limit: "G" });
    expectNoPageErrors();
  });
});

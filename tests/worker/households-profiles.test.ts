import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeEvent } from "../../src/contracts/events";
import { tokenFamilies, watchHistory, watchlistEntries, webhooks } from "../../src/db/schema";
import { encodeHlc } from "../../src/domain/hlc";
import { applyEventBatch } from "../../src/events/consumer";
import { type Account, anonymous, login, newAccount, refresh } from "./accounts";
import { client, db, eventually, testConfig, tokenFor, userStub } from "./helpers";
import { addProfile, household, selectProfile } from "./households";
import { drainOutbox, recordQueue } from "./queue-recorder";

const TOY_STORY = "film-toy-story-1995";
const NEMO = "film-finding-nemo-2003";
const SHREK = "film-shrek-2001";

async function watchHalf(api: ReturnType<typeof client>, contentId: string, device = "tv") {
  const started = await api.post("/api/v1/sessions", {
    content_id: contentId,
    device_id: device,
    duration_seconds: 5400,
  });
  expect(started.status).toBe(201);
  const moved = await api.patch(`/api/v1/sessions/${started.json.id}/position`, {
    position_seconds: 2700,
    playback_state: "paused",
  });
  expect(moved.status).toBe(200);
  return started.json.id as string;
}

const ids = (res: { json: { items: { content_id: string }[] } }) => res.json.items.map((i) => i.content_id).sort();

describe("profiles of one account", () => {
  it("lists the owner first, made on first sign-in with the account's own user id", async () => {
    const owner = await newAccount();
    const listed = await owner.api.get("/api/v1/profiles");
    expect(listed.status).toBe(200);
    expect(listed.json.items).toEqual([
      expect.objectContaining({ id: owner.userId, is_owner: true, maturity_limit: null, has_pin: false }),
    ]);
    const kid = await addProfile(owner, { name: "Kid", maturity_limit: "PG", pin: "2468" });
    expect(kid).toMatchObject({ name: "Kid", maturity_limit: "PG", has_pin: true, is_owner: false });
    expect(kid.id).not.toBe(owner.userId);
    const again = await owner.api.get("/api/v1/profiles");
    expect(again.json.items.map((p: { id: string }) => p.id)).toEqual([owner.userId, kid.id]);
    expect(again.text).not.toContain("2468");
    expect(again.text).not.toContain("pbkdf2");
  });

  it("each see only their own resume points, watchlist and history", async () => {
    const { owner, kid } = await household();
    await watchHalf(owner.api, TOY_STORY);
    await watchHalf(kid.api, NEMO);
    expect((await owner.api.put(`/api/v1/sync/watchlist/${SHREK}`)).status).toBe(201);
    expect((await kid.api.put(`/api/v1/sync/watchlist/${TOY_STORY}`)).status).toBe(201);

    expect((await owner.api.get(`/api/v1/resume/${TOY_STORY}`)).json.resume_position_seconds).toBe(2700);
    expect((await kid.api.get(`/api/v1/resume/${TOY_STORY}`)).json.resume_position_seconds).toBeNull();
    expect((await kid.api.get(`/api/v1/resume/${NEMO}`)).json.resume_position_seconds).toBe(2700);
    expect((await owner.api.get(`/api/v1/resume/${NEMO}`)).json.resume_position_seconds).toBeNull();
    expect(ids(await owner.api.get("/api/v1/continue-watching"))).toEqual([TOY_STORY]);
    expect(ids(await kid.api.get("/api/v1/continue-watching"))).toEqual([NEMO]);
    expect(ids(await owner.api.get("/api/v1/history"))).toEqual([TOY_STORY]);
    expect(ids(await kid.api.get("/api/v1/history"))).toEqual([NEMO]);
    expect(ids(await owner.api.get("/api/v1/sync/watchlist"))).toEqual([SHREK]);
    expect(ids(await kid.api.get("/api/v1/sync/watchlist"))).toEqual([TOY_STORY]);
    // Each is a user of its own in Postgres too.
    const rows = await eventually(
      () =>
        db((d) =>
          d
            .select({ userId: watchHistory.userId, contentId: watchHistory.contentId })
            .from(watchHistory)
            .where(sql`${watchHistory.userId} in (${owner.userId}, ${kid.id})`),
        ),
      (r) => r.length === 2,
    );
    expect(rows.sort((a, b) => a.contentId.localeCompare(b.contentId))).toEqual([
      { userId: kid.id, contentId: NEMO },
      { userId: owner.userId, contentId: TOY_STORY },
    ]);
  });

  it("one profile's token cannot read or change the other's state or manage the household", async () => {
    const { owner, kid } = await household();
    const ownerSession = await watchHalf(owner.api, TOY_STORY);
    // The owner's session does not exist for the kid: not readable, not movable, not endable.
    expect((await kid.api.get(`/api/v1/sessions/${ownerSession}`)).status).toBe(404);
    expect((await kid.api.patch(`/api/v1/sessions/${ownerSession}/position`, { position_seconds: 10 })).status).toBe(
      404,
    );
    expect((await kid.api.delete(`/api/v1/sessions/${ownerSession}`)).status).toBe(404);
    expect((await kid.api.delete(`/api/v1/history/${TOY_STORY}`)).status).toBe(404);
    expect((await kid.api.delete("/api/v1/history")).json.removed).toBe(0);
    // Managing profiles is the owner's: the kid can neither add, change nor delete one.
    expect((await kid.api.post("/api/v1/profiles", { name: "Mine" })).status).toBe(403);
    expect((await kid.api.patch(`/api/v1/profiles/${kid.id}`, { maturity_limit: null })).status).toBe(403);
    expect((await kid.api.delete(`/api/v1/profiles/${kid.id}`)).status).toBe(403);
    // Nor sign the owner out.
    expect((await kid.api.post(`/api/v1/auth/revoke-family/${owner.familyId}`)).status).toBe(404);
    expect((await kid.api.post("/api/v1/auth/logout?everywhere=true")).status).toBe(403);
    // The owner's progress is as it was.
    const resume = await owner.api.get(`/api/v1/resume/${TOY_STORY}`);
    expect(resume.json.position_seconds).toBe(2700);
    expect((await owner.api.get(`/api/v1/sessions/${ownerSession}`)).status).toBe(200);
  });

  it("another account's profiles do not exist for a caller: not listed, selected, changed or approved", async () => {
    const { owner } = await household();
    const stranger = await newAccount();
    const theirs = await addProfile(stranger, { name: "Theirs" });
    expect((await owner.api.post(`/api/v1/profiles/${theirs.id}/select`, {})).status).toBe(404);
    expect((await owner.api.patch(`/api/v1/profiles/${theirs.id}`, { name: "Mine now" })).status).toBe(404);
    expect((await owner.api.delete(`/api/v1/profiles/${theirs.id}`)).status).toBe(404);
    const listed = await owner.api.get("/api/v1/profiles");
    expect(listed.json.items.map((p: { id: string }) => p.id)).not.toContain(theirs.id);
    const again = await stranger.api.get("/api/v1/profiles");
    expect(again.json.items.find((p: { id: string }) => p.id === theirs.id)?.name).toBe("Theirs");
  });

  it("deleting a profile empties its state, refuses its tokens, and leaves every other profile untouched", async () => {
    const owner = await newAccount();
    const kidProfile = await addProfile(owner, { name: "Kid" });
    const teenProfile = await addProfile(owner, { name: "Teen" });
    const kid = await selectProfile(owner, kidProfile.id);
    const teen = await selectProfile(owner, teenProfile.id);
    await watchHalf(kid.api, NEMO);
    await kid.api.put(`/api/v1/sync/watchlist/${SHREK}`);
    await watchHalf(teen.api, TOY_STORY);
    await teen.api.put(`/api/v1/sync/watchlist/${NEMO}`);
    await watchHalf(owner.api, SHREK);
    const hook = await kid.api.post("/api/v1/webhooks", { url: "http://127.0.0.1:9/kid", events: ["*"] });
    expect(hook.status).toBe(201);
    const inPostgres = (userId: string) =>
      db(async (d) => ({
        history: (await d.select().from(watchHistory).where(eq(watchHistory.userId, userId))).length,
        watchlist: (await d.select().from(watchlistEntries).where(eq(watchlistEntries.userId, userId))).length,
        webhooks: (await d.select().from(webhooks).where(eq(webhooks.ownerId, userId))).length,
      }));
    await eventually(
      () => inPostgres(kid.id),
      (r) => r.history === 1 && r.watchlist === 1 && r.webhooks === 1,
    );
    await eventually(
      () => inPostgres(teen.id),
      (r) => r.history === 1 && r.watchlist === 1,
    );

    expect((await owner.api.delete(`/api/v1/profiles/${kid.id}`)).status).toBe(204);

    // Its tokens are refused at once, its refresh token too, and it is gone from the list.
    const refused = await kid.api.get("/api/v1/continue-watching");
    expect(refused.status).toBe(401);
    // Even a token without a family (a developer's) opens nothing of it again.
    const direct = await client(await tokenFor(kid.id)).put(`/api/v1/sync/watchlist/${SHREK}`);
    expect(direct.status).toBe(401);
    expect(direct.json.type).toMatch(/profile-deleted$/);
    expect((await refresh(kid.refreshToken)).status).toBe(401);
    const listed = await owner.api.get("/api/v1/profiles");
    expect(listed.json.items.map((p: { id: string }) => p.id)).not.toContain(kid.id);
    expect((await owner.api.post(`/api/v1/profiles/${kid.id}/select`, {})).status).toBe(404);
    // Its object is empty; its Postgres rows go through the queue consumer.
    const status = await userStub(kid.id).status();
    expect(status.sync).toMatchObject({ entries: 0, devices: 0 });
    await eventually(
      () => inPostgres(kid.id),
      (r) => r.history === 0 && r.watchlist === 0 && r.webhooks === 0,
    );
    const families = await db((d) => d.select().from(tokenFamilies).where(eq(tokenFamilies.profileId, kid.id)));
    expect(families).toEqual([]);

    // The teen and the owner keep everything.
    expect(ids(await teen.api.get("/api/v1/continue-watching"))).toEqual([TOY_STORY]);
    expect(ids(await teen.api.get("/api/v1/sync/watchlist"))).toEqual([NEMO]);
    expect(ids(await owner.api.get("/api/v1/continue-watching"))).toEqual([SHREK]);
    expect(await inPostgres(teen.id)).toEqual({ history: 1, watchlist: 1, webhooks: 0 });
    expect((await inPostgres(owner.userId)).history).toBe(1);
    // The owner's own profile cannot be deleted.
    expect((await owner.api.delete(`/api/v1/profiles/${owner.userId}`)).status).toBe(409);
  });

  it("a late event of a deleted profile never brings its rows back", async () => {
    const { owner, kid } = await household();
    await watchHalf(kid.api, NEMO);
    await eventually(
      () => db((d) => d.select().from(watchHistory).where(eq(watchHistory.userId, kid.id))),
      (r) => r.length === 1,
    );
    expect((await owner.api.delete(`/api/v1/profiles/${kid.id}`)).status).toBe(204);
    await eventually(
      () => db((d) => d.select().from(watchHistory).where(eq(watchHistory.userId, kid.id))),
      (r) => r.length === 0,
    );
    // Progress of the kid's, newer than anything, delivered after the deletion (a retried batch): dropped.
    const event = makeEvent(
      "progress-changed",
      kid.id,
      encodeHlc({ ms: Date.now() + 1000, counter: 0, node: "server" }),
      {
        content_id: NEMO,
        position_seconds: 3000,
        duration_seconds: 5400,
        completion_percentage: 55,
        watched: false,
        state: "paused",
        device_id: "tv",
        last_watched_at: new Date().toISOString(),
        deleted: false,
      },
    );
    const report = await applyEventBatch(testConfig(), "test", [{ id: crypto.randomUUID(), body: event }]);
    expect(report.skipped).toBe(1);
    expect(await db((d) => d.select().from(watchHistory).where(eq(watchHistory.userId, kid.id)))).toEqual([]);
  });

  it("revoking the account's families signs every profile out, TVs and picked profiles included", async () => {
    const owner = await newAccount();
    const second = await login(owner.email, owner.password);
    const kidProfile = await addProfile(owner, { name: "Kid", maturity_limit: "G" });
    const kid = await selectProfile(owner, kidProfile.id);
    const signedIn = [owner.api, client(second.json.access_token), kid.api];
    for (const api of signedIn) expect((await api.get("/api/v1/me")).status).toBe(200);

    expect((await owner.api.post("/api/v1/auth/logout?everywhere=true")).status).toBe(204);

    for (const api of signedIn) expect((await api.get("/api/v1/me")).status).toBe(401);
    for (const token of [owner.refreshToken, second.json.refresh_token, kid.refreshToken]) {
      expect((await refresh(token)).status).toBe(401);
    }
    // Signing in again works, and the household is as it was.
    const again = await login(owner.email, owner.password);
    const profiles = await client(again.json.access_token).get("/api/v1/profiles");
    expect(profiles.json.items.map((p: { name: string }) => p.name)).toContain("Kid");
  });

  it("the owner signs one profile's device out without touching the others", async () => {
    const { owner, kid } = await household();
    const otherKidDevice = await selectProfile(owner, kid.id);
    expect((await owner.api.post(`/api/v1/auth/revoke-family/${kid.familyId}`)).status).toBe(204);
    expect((await kid.api.get("/api/v1/me")).status).toBe(401);
    expect((await otherKidDevice.api.get("/api/v1/me")).status).toBe(200);
    expect((await owner.api.get("/api/v1/me")).status).toBe(200);
  });

  it("a profile's token says who it is: its own user id, the account, its limit; a refresh keeps the profile", async () => {
    const { owner, kid } = await household("PG");
    const me = await kid.api.get("/api/v1/me");
    expect(me.json).toMatchObject({
      user_id: kid.id,
      account_id: owner.userId,
      is_owner: false,
      maturity_limit: "PG",
      email: owner.email,
      role: "user",
    });
    const rotated = await refresh(kid.refreshToken);
    expect(rotated.status).toBe(200);
    expect(rotated.json.user_id).toBe(kid.id);
    const after = await client(rotated.json.access_token).get("/api/v1/me");
    expect(after.json).toMatchObject({ user_id: kid.id, maturity_limit: "PG" });
  });

  it("a changed maturity limit applies from the profile's next request: old tokens are stale, a refresh carries it", async () => {
    const { owner, kid } = await household("PG");
    expect((await kid.api.get(`/api/v1/content/${SHREK}`)).status).toBe(200);
    const changed = await owner.api.patch(`/api/v1/profiles/${kid.id}`, { maturity_limit: "G" });
    expect(changed.status).toBe(200);
    expect(changed.json.maturity_limit).toBe("G");
    const stale = await kid.api.get(`/api/v1/content/${SHREK}`);
    expect(stale.status).toBe(401);
    expect(stale.json.type).toMatch(/token-stale$/);
    const rotated = await refresh(kid.refreshToken);
    expect(rotated.status).toBe(200);
    const fresh = client(rotated.json.access_token);
    expect((await fresh.get(`/api/v1/content/${SHREK}`)).status).toBe(403);
    expect((await fresh.get(`/api/v1/content/${TOY_STORY}`)).status).toBe(200);
    // A rename changes no limit: tokens stay current.
    expect((await owner.api.patch(`/api/v1/profiles/${kid.id}`, { name: "Little one" })).status).toBe(200);
    expect((await fresh.get(`/api/v1/content/${TOY_STORY}`)).status).toBe(200);
  });

  it("at most PROFILES_MAX profiles, names unique whatever their case", async () => {
    const owner = await newAccount();
    expect((await owner.api.post("/api/v1/profiles", { name: "Sam" })).status).toBe(201);
    const twin = await owner.api.post("/api/v1/profiles", { name: "SAM" });
    expect(twin.status).toBe(409);
    expect(twin.json.type).toMatch(/name-taken$/);
    // The owner and Sam are two of six.
    for (const name of ["A", "B", "C", "D"])
      expect((await owner.api.post("/api/v1/profiles", { name })).status).toBe(201);
    const seventh = await owner.api.post("/api/v1/profiles", { name: "E" });
    expect(seventh.status).toBe(409);
    expect(seventh.json.type).toMatch(/too-many-profiles$/);
    expect((await owner.api.get("/api/v1/profiles")).json.items).toHaveLength(6);
  });

  it("refuses bad input with a 400 problem and changes nothing", async () => {
    const owner = await newAccount();
    const kid = await addProfile(owner, { name: "Kid" });
    const bad: unknown[] = [
      {},
      { name: "" },
      { name: "x".repeat(41) },
      { name: "Tab\there" },
      { name: "Kid2", maturity_limit: "PG13" },
      { name: "Kid2", maturity_limit: "Not Rated" },
      { name: "Kid2", pin: "12" },
      { name: "Kid2", pin: "123456789" },
      { name: "Kid2", pin: "12ab" },
      { name: "Kid2", pin: 1234 },
      "not json",
    ];
    for (const body of bad) {
      const res = await owner.api.post("/api/v1/profiles", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    for (const body of [{}, { maturity_limit: "R18" }, { pin: "abc" }, { name: null }]) {
      expect((await owner.api.patch(`/api/v1/profiles/${kid.id}`, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await owner.api.patch("/api/v1/profiles/has spaces", { name: "x" })).status).toBe(400);
    expect((await owner.api.get("/api/v1/profiles")).json.items.map((p: { name: string }) => p.name)).toEqual([
      expect.any(String),
      "Kid",
    ]);
    expect((await anonymous.get("/api/v1/profiles")).status).toBe(401);
  });

  it("a token with no account here (a developer token) has no household", async () => {
    const dev = client(await tokenFor(`dev-${crypto.randomUUID()}`));
    const res = await dev.get("/api/v1/profiles");
    expect(res.status).toBe(404);
    expect(res.json.type).toMatch(/no-account$/);
  });
});

describe("PINs", () => {
  async function withPinnedProfile(): Promise<{
    owner: Account;
    pinned: string;
    other: Awaited<ReturnType<typeof selectProfile>>;
  }> {
    const owner = await newAccount();
    const pinned = await addProfile(owner, { name: "Grown-up", pin: "4321" });
    const otherProfile = await addProfile(owner, { name: "Kid", maturity_limit: "G" });
    const other = await selectProfile(owner, otherProfile.id);
    return { owner, pinned: pinned.id, other };
  }

  it("a profile with a PIN is entered with it: missing or wrong is 403, right gives its tokens", async () => {
    const { owner, pinned, other } = await withPinnedProfile();
    const missing = await other.api.post(`/api/v1/profiles/${pinned}/select`, {});
    expect(missing.status).toBe(403);
    expect(missing.json.type).toMatch(/pin-required$/);
    const wrong = await other.api.post(`/api/v1/profiles/${pinned}/select`, { pin: "0000" });
    expect(wrong.status).toBe(403);
    expect(wrong.json.type).toMatch(/wrong-pin$/);
    const right = await selectProfile(other, pinned, "4321");
    expect(right.id).toBe(pinned);
    // The owner enters without it (and could change it anyway).
    expect((await selectProfile(owner, pinned)).id).toBe(pinned);
    // A removed PIN is not asked any more.
    expect((await owner.api.patch(`/api/v1/profiles/${pinned}`, { pin: null })).json.has_pin).toBe(false);
    expect((await other.api.post(`/api/v1/profiles/${pinned}/select`, {})).status).toBe(200);
  });

  it("tried wrongly beyond the limit is a 429, even with the right PIN, for that profile only", async () => {
    const { owner, pinned, other } = await withPinnedProfile();
    for (let i = 0; i < 5; i++) {
      expect((await other.api.post(`/api/v1/profiles/${pinned}/select`, { pin: `11${i}1` })).status).toBe(403);
    }
    const limited = await other.api.post(`/api/v1/profiles/${pinned}/select`, { pin: "4321" });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another profile's PIN has its own bucket.
    const elsewhere = await addProfile(owner, { name: "Other grown-up", pin: "9999" });
    expect((await other.api.post(`/api/v1/profiles/${elsewhere.id}/select`, { pin: "9999" })).status).toBe(200);
  });

  it("never appears in any response, log or event", async () => {
    const secretPin = "73915";
    const logged: string[] = [];
    const original = { log: console.log, warn: console.warn, error: console.error };
    for (const level of ["log", "warn", "error"] as const) {
      console[level] = (...args: unknown[]) => {
        logged.push(args.map(String).join(" "));
        original[level](...args);
      };
    }
    const seen: string[] = [];
    try {
      const owner = await newAccount();
      const created = await owner.api.post("/api/v1/profiles", { name: "Locked", pin: secretPin });
      seen.push(created.text);
      // The stored hash is not the PIN either.
      const [row] = await db((d) => d.execute(sql`select pin_hash from profiles where id = ${created.json.id}`)).then(
        (r) => (r as unknown as { rows: { pin_hash: string }[] }).rows,
      );
      expect(row?.pin_hash).toMatch(/^pbkdf2-sha256\$/);
      expect(row?.pin_hash).not.toContain(secretPin);
      const kid = await selectProfile(owner, (await addProfile(owner, { name: "Kid" })).id);
      for (const pin of [secretPin, "00000", `${secretPin}x`]) {
        seen.push((await kid.api.post(`/api/v1/profiles/${created.json.id}/select`, { pin })).text);
      }
      seen.push((await owner.api.patch(`/api/v1/profiles/${created.json.id}`, { pin: `${secretPin}1` })).text);
      seen.push((await owner.api.patch(`/api/v1/profiles/${created.json.id}`, { pin: `x${secretPin}` })).text);
      seen.push((await owner.api.get("/api/v1/profiles")).text);
      // Everything the profile's object puts on the queue, its deletion included.
      const queue = await recordQueue(userStub(created.json.id));
      await kid.api.get("/api/v1/me");
      expect((await owner.api.delete(`/api/v1/profiles/${created.json.id}`)).status).toBe(204);
      await drainOutbox(userStub(created.json.id));
      const events = queue.sent.flatMap((batch) => batch.events);
      expect(events.map((e) => e.type)).toContain("profile-deleted");
      seen.push(JSON.stringify(events));
    } finally {
      Object.assign(console, original);
    }
    for (const text of [...seen, ...logged]) expect(text).not.toContain(secretPin);
  });
});

describe("owner accounts from before profiles", () => {
  it("keep their user id, state and tokens: the first profile is the account itself", async () => {
    const owner = await newAccount();
    await watchHalf(owner.api, SHREK);
    // Profiles are made on first need; the account's own id is the owner's profile.
    const listed = await owner.api.get("/api/v1/profiles");
    expect(listed.json.items[0].id).toBe(owner.userId);
    expect((await owner.api.get(`/api/v1/resume/${SHREK}`)).json.resume_position_seconds).toBe(2700);
    const rotated = await refresh(owner.refreshToken);
    expect(rotated.json.user_id).toBe(owner.userId);
    // Its family is the account's, with no separate profile.
    const [family] = await db((d) =>
      d
        .select()
        .from(tokenFamilies)
        .where(and(eq(tokenFamilies.id, owner.familyId))),
    );
    expect(family).toMatchObject({ userId: owner.userId, profileId: null });
  });
});

import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq, gt, max } from "drizzle-orm";
import { SignJWT } from "jose";
import { Webhook } from "standardwebhooks";
import { describe, expect, inject, it } from "vitest";
import { app } from "../../src/app";
import { LOCAL_DEV_JWT_SECRET, parseConfig } from "../../src/config";
import { type EventEnvelope, makeEvent } from "../../src/contracts/events";
import { eventLog, profiles } from "../../src/db/schema";
import { replayToWebhook } from "../../src/db/webhooks";
import { encodeCursor } from "../../src/domain/cursor";
import { encodeHlc } from "../../src/domain/hlc";
import { applyEventBatch } from "../../src/events/consumer";
import { deliverDueWebhooks, sendDelivery } from "../../src/events/webhooks";
import worker from "../../src/index";
import { newAccount } from "./accounts";
import { checkedFetch } from "./contract-harness";
import { type Client, client, db, eventually, newUser, testConfig, tokenFor } from "./helpers";

/**
 * A second profile of the account, signed in. Made in Postgres directly with a token like the
 * ones profile selection issues (sub: the profile, acc: the account).
 */
async function kidProfile(accountId: string) {
  const id = `kid-${crypto.randomUUID()}`;
  await db((d) => d.insert(profiles).values({ id, accountId, name: `Kid ${id.slice(4, 12)}` }));
  const token = await new SignJWT({ acc: accountId })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(id)
    .setIssuedAt()
    .setExpirationTime("15m")
    .sign(new TextEncoder().encode(LOCAL_DEV_JWT_SECRET));
  return { id, api: client(token) };
}

const recorder = inject("webhookRecorder");

interface Recorded {
  headers: Record<string, string>;
  body: string;
  received_at_ms: number;
}

/** A fresh name on the recording server: the URL to register and a way to read what it received. */
function endpoint(query = "") {
  const name = `h${crypto.randomUUID().replaceAll("-", "")}`;
  return {
    url: `http://${recorder}/hook/${name}${query}`,
    received: async (): Promise<Recorded[]> => (await fetch(`http://${recorder}/__records/${name}`)).json(),
  };
}

const bodies = (records: Recorded[]) => records.map((r) => JSON.parse(r.body) as EventEnvelope);

async function register(api: Client, body: Record<string, unknown>) {
  const res = await api.post("/api/v1/webhooks", body);
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; url: string; events: string[]; scope: string; created_at: string; secret: string };
}

/** Runs the per-minute cron (webhook retries) the way the platform does. */
const cron = () => worker.scheduled(createScheduledController({ cron: "* * * * *" }), env);

/** Deliveries of a webhook, all pages. */
async function deliveries(api: Client, id: string) {
  const res = await api.get(`/api/v1/webhooks/${id}/deliveries?limit=100`);
  expect(res.status, res.text).toBe(200);
  return res.json.items as {
    event_id: string;
    type: string;
    status: string;
    attempts: number;
    last_status_code: number | null;
    last_error: string | null;
    delivered_at: string | null;
  }[];
}

const markWatched = (api: Client, contentId = "film-amadeus-1984") => api.put(`/api/v1/history/${contentId}/watched`);

describe("webhook deliveries", () => {
  it("delivers each matching event, signed so that the Standard Webhooks reference implementation verifies it", async () => {
    const user = await newUser();
    const hook = endpoint();
    const created = await register(user.api, { url: hook.url, events: ["progress-changed"] });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(created).toMatchObject({ url: hook.url, events: ["progress-changed"], scope: "own" });

    expect((await markWatched(user.api)).status).toBe(200);
    const received = await eventually(hook.received, (r) => r.length >= 1);
    const [first] = received;
    if (!first) throw new Error("nothing received");

    // The reference verifier accepts it with the secret shown at registration.
    const verified = new Webhook(created.secret).verify(first.body, first.headers) as EventEnvelope;
    expect(verified).toMatchObject({ type: "progress-changed", user_id: user.id });
    expect(verified.data).toMatchObject({ content_id: "film-amadeus-1984", watched: true });
    expect(first.headers["webhook-id"]).toBe(verified.event_id);
    expect(Math.abs(Number(first.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(300);
    expect(first.headers["content-type"]).toBe("application/json");
    // Only the chosen type: play-completed, from the same write, is not sent.
    expect(bodies(received).every((e) => e.type === "progress-changed")).toBe(true);

    // And it refuses the same delivery with another secret, or with the body changed.
    const other = new Webhook(`whsec_${btoa("another key of thirty-two bytes!")}`);
    expect(() => other.verify(first.body, first.headers)).toThrow();
    const tampered = first.body.replace('"watched":true', '"watched":false');
    expect(tampered).not.toBe(first.body);
    expect(() => new Webhook(created.secret).verify(tampered, first.headers)).toThrow();

    // The deliveries listing shows it delivered on the first attempt.
    const listed = await eventually(
      () => deliveries(user.api, created.id),
      (d) => d.some((x) => x.event_id === verified.event_id && x.status === "delivered"),
    );
    expect(listed.find((x) => x.event_id === verified.event_id)).toMatchObject({
      type: "progress-changed",
      status: "delivered",
      attempts: 1,
      last_status_code: 204,
      last_error: null,
    });
  });

  it('["*"] hears every type of the user\'s events', async () => {
    const user = await newUser();
    const hook = endpoint();
    await register(user.api, { url: hook.url, events: ["*"] });
    await markWatched(user.api);
    const received = await eventually(hook.received, (r) =>
      ["progress-changed", "play-completed"].every((t) => bodies(r).some((e) => e.type === t)),
    );
    expect(bodies(received).every((e) => e.user_id === user.id)).toBe(true);
  });

  it("retries an endpoint that answers 500 until it succeeds, and lists the attempts", async () => {
    const user = await newUser();
    const hook = endpoint("?fail=2");
    const created = await register(user.api, { url: hook.url, events: ["progress-changed"] });
    await markWatched(user.api);

    // The first attempt, right after the consumer's commit, got a 500.
    const retrying = await eventually(
      () => deliveries(user.api, created.id),
      (d) => d.length === 1 && d[0]?.attempts !== undefined && d[0].attempts >= 1,
    );
    expect(retrying[0]).toMatchObject({ type: "progress-changed", last_status_code: 500 });
    if (retrying[0]?.status === "retrying") expect(retrying[0].last_error).toContain("500");
    // The operator's view lists it among the targets behind, with its backlog.
    const admin = client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
    const targets = (await admin.get("/api/v1/admin/subscribers")).json.items as { target: string }[];
    expect(targets.find((t) => t.target === created.id)).toMatchObject({
      kind: "webhook",
      types: ["progress-changed"],
      users_behind: 1,
      pending: 1,
    });

    // The cron retries with backoff (1 s, then 2 s here) until the endpoint takes it.
    const done = await eventually(
      async () => {
        await cron();
        return deliveries(user.api, created.id);
      },
      (d) => d[0]?.status === "delivered",
      30_000,
    );
    expect(done[0]).toMatchObject({ status: "delivered", attempts: 3, last_status_code: 204, last_error: null });
    expect(done[0]?.delivered_at).not.toBeNull();
    const received = await hook.received();
    expect(received).toHaveLength(1);
    expect(received[0]?.headers["webhook-id"]).toBe(done[0]?.event_id);
  });

  it("keeps a delivery as failed once the retry window is over, and replays it on request", async () => {
    const user = await newUser();
    const hook = endpoint("?fail=1000");
    const created = await register(user.api, { url: hook.url, events: ["session-created"] });
    const event = makeEvent("session-created", user.id, encodeHlc({ ms: Date.now(), counter: 0, node: "server" }), {
      session_id: crypto.randomUUID(),
      content_id: "film-alien-1979",
      device_id: "tv",
      position_seconds: 0,
      duration_seconds: 7000,
      playback_state: "playing",
    });
    // Applied twice (a redelivered batch): one delivery.
    await applyEventBatch(testConfig(), "media-gateway-events", [{ id: "m1", body: event }]);
    await applyEventBatch(testConfig(), "media-gateway-events", [{ id: "m1", body: event }]);
    expect(await deliveries(user.api, created.id)).toHaveLength(1);

    // Two days later, one more failure ends it.
    const later = () => new Date(Date.now() + 2 * 86_400_000);
    await eventually(
      async () => {
        await deliverDueWebhooks(testConfig(), { now: later });
        return deliveries(user.api, created.id);
      },
      (d) => d[0]?.status === "failed",
    );
    const [failed] = await deliveries(user.api, created.id);
    expect(failed).toMatchObject({ event_id: event.event_id, status: "failed", last_status_code: 500 });
    expect(failed?.delivered_at).toBeNull();
    const listing = (await user.api.get("/api/v1/webhooks")).json.items.find(
      (w: { id: string }) => w.id === created.id,
    );
    expect(listing).toMatchObject({ failed: 1, pending: 0, lag_seconds: null });

    // A replay queues it again with a fresh window.
    expect(await db((d) => replayToWebhook(d, created.id, [event]))).toBe(1);
    const [replayed] = await deliveries(user.api, created.id);
    expect(replayed).toMatchObject({ event_id: event.event_id, status: "retrying", attempts: 0 });
    const afterReplay = (await user.api.get("/api/v1/webhooks")).json.items.find(
      (w: { id: string }) => w.id === created.id,
    );
    expect(afterReplay.pending).toBe(1);
    expect(afterReplay.lag_seconds).toEqual(expect.any(Number));
    expect(await db((d) => replayToWebhook(d, "wh_doesnotexist", [event]))).toBe(0);
    // Deleting the webhook stops it for good.
    expect((await user.api.delete(`/api/v1/webhooks/${created.id}`)).status).toBe(204);
  });

  it("never sends one user's events to another user's webhook", async () => {
    const alice = await newUser("alice");
    const bob = await newUser("bob");
    const aliceHook = endpoint();
    const bobHook = endpoint();
    await register(alice.api, { url: aliceHook.url, events: ["*"] });
    await register(bob.api, { url: bobHook.url, events: ["*"] });
    await markWatched(bob.api, "film-alien-1979");
    await markWatched(alice.api);
    await eventually(bobHook.received, (r) => bodies(r).some((e) => e.type === "progress-changed"));
    const aliceGot = await eventually(aliceHook.received, (r) => bodies(r).some((e) => e.type === "progress-changed"));
    // Give a late delivery of bob's a chance to show up where it must not.
    await new Promise((r) => setTimeout(r, 500));
    expect(bodies(await aliceHook.received()).every((e) => e.user_id === alice.id)).toBe(true);
    expect(aliceGot.length).toBeGreaterThan(0);
    expect(bodies(await bobHook.received()).every((e) => e.user_id === bob.id)).toBe(true);
  });

  it("an account owner's webhook hears the account's profiles; a profile's hears only its own", async () => {
    const owner = await newAccount();
    const kid = await kidProfile(owner.userId);
    const ownerHook = endpoint();
    const kidHook = endpoint();
    await register(owner.api, { url: ownerHook.url, events: ["progress-changed"] });
    await register(kid.api, { url: kidHook.url, events: ["progress-changed"] });
    const kidWrite = await markWatched(kid.api, "film-alien-1979");
    expect(kidWrite.status, kidWrite.text).toBe(200);
    await markWatched(owner.api);
    await eventually(kidHook.received, (r) => r.length >= 1);
    const heard = await eventually(ownerHook.received, (r) => r.length >= 2);
    expect(new Set(bodies(heard).map((e) => e.user_id))).toEqual(new Set([owner.userId, kid.id]));
    await eventually(kidHook.received, (r) => r.length >= 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(bodies(await kidHook.received()).map((e) => e.user_id)).toEqual([kid.id]);
    // The kid does not see the owner's webhooks, nor the other way round.
    expect((await kid.api.get("/api/v1/webhooks")).json.items).toHaveLength(1);
    expect((await owner.api.get("/api/v1/webhooks")).json.items).toHaveLength(1);
  });

  it("an admin's scope \"all\" webhook hears every user's events", async () => {
    const admin = client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
    const hook = endpoint();
    const created = await register(admin, { url: hook.url, events: ["progress-changed"], scope: "all" });
    expect(created.scope).toBe("all");
    const one = await newUser();
    const two = await newUser();
    await markWatched(one.api);
    await markWatched(two.api);
    await eventually(hook.received, (r) => [one.id, two.id].every((id) => bodies(r).some((e) => e.user_id === id)));
    // Removed, so it does not keep hearing the other tests' users.
    expect((await admin.delete(`/api/v1/webhooks/${created.id}`)).status).toBe(204);
  });

  it("an admin's replay of a log range reaches a user's webhook with that user's events only", async () => {
    const admin = client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
    const [tail] = await db((d) => d.select({ seq: max(eventLog.seq) }).from(eventLog));
    const after = encodeCursor({ s: tail?.seq ?? 0 });
    const alice = await newUser("replay-alice");
    const bob = await newUser("replay-bob");
    await markWatched(alice.api);
    await markWatched(bob.api);
    const logged = (userId: string) =>
      db((d) =>
        d
          .select({ eventId: eventLog.eventId })
          .from(eventLog)
          .where(and(eq(eventLog.userId, userId), gt(eventLog.seq, tail?.seq ?? 0))),
      );
    const alicesEvents = await eventually(
      () => logged(alice.id),
      (rows) => rows.length >= 2,
    );
    await eventually(
      () => logged(bob.id),
      (rows) => rows.length >= 2,
    );
    // Registered after the events were applied: it heard none of them live.
    const hook = endpoint();
    const created = await register(alice.api, { url: hook.url, events: ["*"] });
    const replay = await admin.post("/api/v1/admin/events/replay", { target: created.id, after });
    expect(replay.status, replay.text).toBe(200);
    expect(replay.json.sent).toBe(alicesEvents.length);
    const received = await eventually(hook.received, (r) => r.length >= alicesEvents.length);
    expect(bodies(received).every((e) => e.user_id === alice.id)).toBe(true);
    expect(new Set(bodies(received).map((e) => e.event_id))).toEqual(new Set(alicesEvents.map((e) => e.eventId)));
    // An unknown webhook id is an unknown target.
    expect((await admin.post("/api/v1/admin/events/replay", { target: "wh_doesnotexist", after })).status).toBe(404);
  });

  it("counts a redirect (not followed) and a timeout as failed attempts", async () => {
    const event = makeEvent("session-created", "u", encodeHlc({ ms: Date.now(), counter: 0, node: "server" }), {
      session_id: "s",
      content_id: "film-alien-1979",
      device_id: "tv",
      position_seconds: 0,
      duration_seconds: 1,
      playback_state: "playing",
    });
    const moved = endpoint("?status=302");
    const redirected = await sendDelivery(
      testConfig(),
      { eventId: event.event_id, envelope: event, url: moved.url, secret: btoa("k") },
      new Date(),
    );
    expect(redirected).toMatchObject({ ok: false, statusCode: 302 });
    expect(redirected.error).toContain("redirect");
    const impatient = parseConfig({ ...(env as unknown as Record<string, unknown>), WEBHOOK_TIMEOUT_MS: "200" });
    const slow = endpoint("?delay=2000");
    const timedOut = await sendDelivery(
      impatient,
      { eventId: event.event_id, envelope: event, url: slow.url, secret: btoa("k") },
      new Date(),
    );
    expect(timedOut).toMatchObject({ ok: false, statusCode: null, error: "no answer in 200 ms" });
  });

  it("does not call an address the settings refuse, even for a webhook registered under other settings", async () => {
    const strict = parseConfig({ ...(env as unknown as Record<string, unknown>), WEBHOOK_ALLOW_LOOPBACK: "false" });
    const hook = endpoint();
    const event = makeEvent("session-created", "u", encodeHlc({ ms: Date.now(), counter: 0, node: "server" }), {
      session_id: "s",
      content_id: "film-alien-1979",
      device_id: "tv",
      position_seconds: 0,
      duration_seconds: 1,
      playback_state: "playing",
    });
    const outcome = await sendDelivery(
      strict,
      { eventId: event.event_id, envelope: event, url: hook.url, secret: btoa("k") },
      new Date(),
    );
    expect(outcome).toMatchObject({ ok: false, statusCode: null });
    expect(outcome.error).toContain("loopback");
    expect(await hook.received()).toHaveLength(0);
  });
});

describe("webhook registration", () => {
  it("lists the caller's webhooks without secrets, and deletes them", async () => {
    const user = await newUser();
    const a = await register(user.api, { url: "https://hooks.example.com/a", events: ["watchlist-changed"] });
    const b = await register(user.api, { url: "https://hooks.example.com/b", events: ["*"] });
    const listed = await user.api.get("/api/v1/webhooks");
    expect(listed.status).toBe(200);
    expect(listed.json.next_cursor).toBeNull();
    expect(listed.json.items.map((w: { id: string }) => w.id)).toEqual([a.id, b.id]);
    expect(listed.text).not.toContain(a.secret.slice(6));
    expect(listed.json.items[0]).toMatchObject({ pending: 0, retrying: 0, failed: 0, lag_seconds: null });
    expect(listed.json.items[0]).not.toHaveProperty("secret");
    expect((await user.api.delete(`/api/v1/webhooks/${a.id}`)).status).toBe(204);
    expect((await user.api.delete(`/api/v1/webhooks/${a.id}`)).status).toBe(404);
    expect((await user.api.get("/api/v1/webhooks")).json.items.map((w: { id: string }) => w.id)).toEqual([b.id]);
  });

  it("another user's webhook does not exist for the caller", async () => {
    const owner = await newUser();
    const other = await newUser();
    const hook = await register(owner.api, { url: "https://hooks.example.com/x", events: ["*"] });
    for (const res of [
      await other.api.get(`/api/v1/webhooks/${hook.id}/deliveries`),
      await other.api.delete(`/api/v1/webhooks/${hook.id}`),
    ]) {
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    expect((await other.api.get("/api/v1/webhooks")).json.items).toEqual([]);
    expect((await owner.api.get("/api/v1/webhooks")).json.items).toHaveLength(1);
  });

  it("refuses bad input of every kind with a problem, and registers nothing", async () => {
    const user = await newUser();
    const ok = { url: "https://hooks.example.com/in", events: ["progress-changed"] };
    const cases: [unknown, number][] = [
      [{ events: ["*"] }, 400],
      [{ url: ok.url }, 400],
      [{ ...ok, events: [] }, 400],
      [{ ...ok, events: ["no-such-type"] }, 400],
      [{ ...ok, events: ["*", "progress-changed"] }, 400],
      [{ ...ok, events: ["progress-changed", "progress-changed"] }, 400],
      [{ ...ok, events: "progress-changed" }, 400],
      [{ ...ok, scope: "everyone" }, 400],
      [{ ...ok, extra: true }, 400],
      [{ ...ok, url: "" }, 400],
      [{ ...ok, url: `https://hooks.example.com/${"a".repeat(2100)}` }, 400],
      [{ ...ok, url: 42 }, 400],
      [{ ...ok, url: "not a url" }, 422],
      [{ ...ok, url: "ftp://hooks.example.com/x" }, 422],
      [{ ...ok, url: "http://hooks.example.com/plain" }, 422],
      [{ ...ok, url: "https://user:pw@hooks.example.com/x" }, 422],
      [{ ...ok, url: "https://10.1.2.3/x" }, 422],
      [{ ...ok, url: "https://169.254.169.254/latest/meta-data" }, 422],
      [{ ...ok, url: "https://192.168.0.10/x" }, 422],
      [{ ...ok, url: "https://172.16.5.4/x" }, 422],
      [{ ...ok, url: "https://[fd00::1]/x" }, 422],
      [{ ...ok, url: "https://[fe80::1]/x" }, 422],
      [{ ...ok, url: "https://[::ffff:10.0.0.1]/x" }, 422],
      [{ ...ok, url: "https://metadata.google.internal/x" }, 422],
      [{ ...ok, url: "https://printer.local/x" }, 422],
      [{ ...ok, url: "https://intranet/x" }, 422],
      [{ ...ok, scope: "all" }, 403],
    ];
    for (const [body, status] of cases) {
      const res = await user.api.post("/api/v1/webhooks", body);
      expect(res.status, JSON.stringify(body).slice(0, 120)).toBe(status);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.json).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
    }
    const raw = await user.api.raw("POST", "/api/v1/webhooks", "{not json", { "content-type": "application/json" });
    expect(raw.status).toBe(400);
    const text = await user.api.raw("POST", "/api/v1/webhooks", "url=x", { "content-type": "text/plain" });
    expect(text.status).toBe(415);
    const anonymous = await client(null).post("/api/v1/webhooks", ok);
    expect(anonymous.status).toBe(401);
    const huge = await user.api.post("/api/v1/webhooks", { ...ok, pad: "x".repeat(300 * 1024) });
    expect(huge.status).toBe(413);
    const put = await user.api.put("/api/v1/webhooks", ok);
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST");
    expect((await user.api.patch("/api/v1/webhooks/wh_nothere", ok)).status).toBe(405);
    expect((await user.api.get("/api/v1/webhooks/bad id!/deliveries")).status).toBe(400);
    expect((await user.api.get("/api/v1/webhooks/wh_nothere/deliveries")).status).toBe(404);
    expect((await user.api.delete("/api/v1/webhooks/wh_nothere")).status).toBe(404);
    const hook = await register(user.api, ok);
    expect((await user.api.get(`/api/v1/webhooks/${hook.id}/deliveries?cursor=bogus`)).status).toBe(400);
    expect((await user.api.get(`/api/v1/webhooks/${hook.id}/deliveries?limit=0`)).status).toBe(400);
    expect((await user.api.get(`/api/v1/webhooks/${hook.id}/deliveries?limit=101`)).status).toBe(400);
    // Nothing was registered but the one good webhook.
    expect((await user.api.get("/api/v1/webhooks")).json.items).toHaveLength(1);
  });

  it("caps the number of webhooks per user", async () => {
    const user = await newUser();
    const max = testConfig().WEBHOOK_MAX_PER_USER;
    for (let i = 0; i < max; i++) await register(user.api, { url: `https://hooks.example.com/${i}`, events: ["*"] });
    const over = await user.api.post("/api/v1/webhooks", { url: "https://hooks.example.com/over", events: ["*"] });
    expect(over.status).toBe(409);
    expect(over.json.type).toContain("too-many-webhooks");
    expect((await user.api.get("/api/v1/webhooks")).json.items).toHaveLength(max);
  });

  it("refuses loopback URLs when WEBHOOK_ALLOW_LOOPBACK is off, and takes them when it is on", async () => {
    const user = await newUser();
    const strictEnv = { ...(env as unknown as Record<string, unknown>), WEBHOOK_ALLOW_LOOPBACK: "false" };
    const post = async (url: string) => {
      const body = JSON.stringify({ url, events: ["*"] });
      const ctx = createExecutionContext();
      const { res, text } = await checkedFetch(
        new Request("http://gateway.test/api/v1/webhooks", {
          method: "POST",
          headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
          body,
        }),
        body,
        (r) => app.fetch(r, strictEnv, ctx) as Promise<Response>,
      );
      await waitOnExecutionContext(ctx);
      return { status: res.status, json: JSON.parse(text) };
    };
    for (const url of [
      `http://${recorder}/hook/x`,
      "https://127.0.0.1/x",
      "https://localhost/x",
      "https://[::1]/x",
      "https://0x7f.1/x",
      "https://2130706433/x",
      "https://app.localhost/x",
    ]) {
      const res = await post(url);
      expect(res.status, url).toBe(422);
      expect(res.json.errors[0].path).toBe("url");
    }
    expect((await user.api.get("/api/v1/webhooks")).json.items).toHaveLength(0);
    // The same URL under this test project's settings (loopback allowed).
    expect((await user.api.post("/api/v1/webhooks", { url: `http://${recorder}/hook/x`, events: ["*"] })).status).toBe(
      201,
    );
  });

  it("/health summarizes the webhooks' backlog", async () => {
    const res = await client(null).get("/health");
    expect(res.json.webhooks).toMatchObject({
      webhooks: expect.any(Number),
      pending: expect.any(Number),
      retrying: expect.any(Number),
      failed: expect.any(Number),
    });
    expect(res.json.webhooks.webhooks).toBeGreaterThan(0);
  });
});

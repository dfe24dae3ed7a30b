import { beforeAll, describe, expect, it } from "vitest";
import { encodeHlc } from "../../src/domain/hlc";
import { catalogFilms } from "./catalog";
import { workerFetch } from "./contract-harness";
import { type Client, newUser, testConfig } from "./helpers";

let films: string[] = [];
beforeAll(async () => {
  films = await catalogFilms();
});
/** The i-th film of the catalog (wrapping around). */
const film = (i: number) => films[i % films.length] as string;

// Batches add films from the thousandth on: never the ones the single writes name.
let n = 1000;
const addBatch = (size: number) => ({
  device_id: "runaway",
  ops: Array.from({ length: size }, () => ({
    op_id: crypto.randomUUID(),
    type: "watchlist.add",
    content_id: film(n++),
    hlc: encodeHlc({ ms: Date.now(), counter: n, node: "runaway" }),
  })),
});

/** 500 copies of one op: costs what any 500-op batch costs, but is cheap to apply (duplicates). */
const duplicateBatch = () => {
  const op = addBatch(1).ops[0];
  return { device_id: "runaway", ops: Array.from({ length: 500 }, () => op) };
};

/** Spends the user's write budget (big batches, then single writes) until a write is refused. */
async function exhaust(api: Client) {
  for (let i = 0; i < 10; i++) {
    if ((await api.post("/api/v1/sync/ops", duplicateBatch())).status === 429) break;
  }
  for (let i = 0; i < 200; i++) {
    const res = await api.post("/api/v1/devices/no-such-device/heartbeat");
    if (res.status === 429) return res;
  }
  throw new Error("never rate limited");
}

/**
 * The budget refills (1 token/s in the tests, 10/s by default), so spend it right before the
 * probe; retry a few times in case a refill slipped in between. Returns the refused response.
 */
async function refusedRightAfterExhaustion(api: Client, write: () => Promise<any>) {
  for (let attempt = 0; attempt < 5; attempt++) {
    await exhaust(api);
    const res = await write();
    if (res.status === 429) return res;
  }
  throw new Error("the write was never refused");
}

describe("per-user write rate limit", () => {
  it("answers a runaway client 429 problem+json with Retry-After, and the refused write changes nothing", async () => {
    const { api } = await newUser();
    let attempt = 0;
    const refused = await refusedRightAfterExhaustion(api, () => api.put(`/api/v1/sync/watchlist/${film(attempt++)}`));
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.json).toMatchObject({ status: 429, type: expect.stringMatching(/rate-limited/) });
    const held = (await api.get("/api/v1/sync")).json.watchlist.items.map((i: any) => i.content_id);
    expect(held).not.toContain(film(attempt - 1));
    // Reads are never limited.
    expect((await api.get("/api/v1/sync/watchlist")).status).toBe(200);
    // A big batch costs in proportion to its ops: refused while the budget is low, and applies nothing.
    const batch = await api.post("/api/v1/sync/ops", addBatch(500));
    expect(batch.status).toBe(429);
    expect(Number(batch.headers.get("retry-after"))).toBeGreaterThanOrEqual(3);
    expect((await api.get("/api/v1/sync/watchlist")).json.items.length).toBe(held.length);
  });

  it("covers every user-state write: playback sessions, history, devices and the socket upgrade", async () => {
    const { api, token } = await newUser();
    const writes: [string, () => Promise<{ status: number; headers: Headers }>][] = [
      [
        "POST /sessions",
        () =>
          api.post("/api/v1/sessions", { content_id: "film-the-matrix-1999", device_id: "tv", duration_seconds: 60 }),
      ],
      ["PUT /history/{id}/watched", () => api.put("/api/v1/history/film-the-matrix-1999/watched")],
      [
        "PUT /sync/progress/{id}",
        () =>
          api.put("/api/v1/sync/progress/film-the-matrix-1999", {
            position_seconds: 1,
            duration_seconds: 9,
            state: "paused",
          }),
      ],
      [
        "PUT /devices/{id}",
        () =>
          api.put("/api/v1/devices/tv", {
            device_type: "TV",
            platform: "x",
            capabilities: {},
            app_version: "1",
            device_name: "x",
          }),
      ],
      [
        "GET /sync/ws",
        () =>
          workerFetch(
            new Request("http://gateway.test/api/v1/sync/ws", {
              headers: { upgrade: "websocket", authorization: `Bearer ${token}` },
            }),
          ),
      ],
    ];
    for (const [name, write] of writes) {
      const res = await refusedRightAfterExhaustion(api, write);
      expect(res.headers.get("retry-after"), name).not.toBeNull();
    }
  });

  it("is generous to a real client and per user: another user is unaffected", async () => {
    const { api } = await newUser();
    const other = await newUser();
    const burst = testConfig().RATE_LIMIT_BURST;
    // A real client's burst (a reconnect: register, heartbeat, a few edits, a position report) fits.
    for (let i = 0; i < Math.min(60, burst - 1); i++) {
      expect((await api.put(`/api/v1/sync/watchlist/${film(i)}`)).status).toBe(201);
    }
    await exhaust(api);
    expect((await other.api.put(`/api/v1/sync/watchlist/${film(1)}`)).status).toBe(201);
  });
});

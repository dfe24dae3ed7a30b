import { afterAll, describe, expect, it } from "vitest";
import { encodeHlc } from "../../src/domain/hlc";
import { eventually, newUser, testConfig } from "./helpers";
import { adminApi, publishElsewhere, reindex, removeItems, testItem, uniqueWord } from "./search-support";

const MATRIX = "film-the-matrix-1999";
const EPISODE = "series-distant-empire-s01e02";
const added: string[] = [];
afterAll(async () => {
  await removeItems(added);
  await reindex();
});

const hlc = (offsetMs = 0) => encodeHlc({ ms: Date.now() + offsetMs, counter: 0, node: "phone" });
const progressBody = { position_seconds: 600, duration_seconds: 3600, state: "paused" };

describe("sync ops naming unknown content", () => {
  it("refuse the whole batch with a 404 naming each such op, and apply none of it", async () => {
    const { api } = await newUser();
    const batch = {
      ops: [
        { type: "watchlist.add", op_id: crypto.randomUUID(), content_id: MATRIX, hlc: hlc() },
        { type: "watchlist.add", op_id: crypto.randomUUID(), content_id: "film-no-such-thing-2099", hlc: hlc() },
        { type: "progress.set", op_id: crypto.randomUUID(), content_id: EPISODE, hlc: hlc(), ...progressBody },
        {
          type: "progress.set",
          op_id: crypto.randomUUID(),
          content_id: "series-nope-s01e01",
          hlc: hlc(),
          ...progressBody,
        },
      ],
    };
    const refused = await api.post("/api/v1/sync/ops", batch);
    expect(refused.status).toBe(404);
    expect(refused.json.errors.map((e: { path: string }) => e.path)).toEqual(["ops.1.content_id", "ops.3.content_id"]);
    const state = await api.get("/api/v1/sync");
    expect(state.json.watchlist.items).toEqual([]);
    expect(state.json.progress.items).toEqual([]);

    // The same batch without the unknown ops goes through.
    const accepted = await api.post("/api/v1/sync/ops", { ops: [batch.ops[0], batch.ops[2]] });
    expect(accepted.status).toBe(200);
    expect(accepted.json.applied).toBe(2);
  });

  it("let a remove name content that is not (or no longer) in the catalog", async () => {
    const { api } = await newUser();
    const res = await api.post("/api/v1/sync/ops", {
      ops: [
        {
          type: "watchlist.remove",
          op_id: crypto.randomUUID(),
          content_id: "film-left-the-catalog-1990",
          hlc: hlc(),
          tags: [hlc(-1000)],
        },
      ],
    });
    expect(res.status).toBe(200);
  });
});

describe("viewing-record writes naming unknown content", () => {
  it("refuse a rating, a hidden card and ops that rate, hide or add a play, and change nothing", async () => {
    const { api } = await newUser();
    const unknown = "film-no-such-thing-2099";
    expect((await api.put(`/api/v1/ratings/${unknown}`, { rating: 7 })).status).toBe(404);
    expect((await api.put(`/api/v1/continue-watching/${unknown}/hidden`)).status).toBe(404);
    const ops = [
      { type: "rating.set", op_id: crypto.randomUUID(), content_id: unknown, hlc: hlc(), rating: 6 },
      { type: "hidden.set", op_id: crypto.randomUUID(), content_id: unknown, hlc: hlc(), hidden: true },
      {
        type: "play.add",
        op_id: crypto.randomUUID(),
        content_id: unknown,
        hlc: hlc(),
        watched_at: new Date().toISOString(),
      },
    ];
    const refused = await api.post("/api/v1/sync/ops", { ops });
    expect(refused.status).toBe(404);
    expect(refused.json.errors.map((e: { path: string }) => e.path)).toEqual([
      "ops.0.content_id",
      "ops.1.content_id",
      "ops.2.content_id",
    ]);
    expect((await api.get("/api/v1/ratings")).json.items).toEqual([]);
    expect((await api.get("/api/v1/history/plays")).json.items).toEqual([]);
    // Taking a rating or a hidden flag back may name anything: there is nothing to write.
    const removals = await api.post("/api/v1/sync/ops", {
      ops: [
        { type: "rating.set", op_id: crypto.randomUUID(), content_id: unknown, hlc: hlc(), rating: null },
        { type: "hidden.set", op_id: crypto.randomUUID(), content_id: unknown, hlc: hlc(), hidden: false },
      ],
    });
    expect(removals.status).toBe(200);
    // The same writes on a catalog title go through.
    expect((await api.put(`/api/v1/ratings/${MATRIX}`, { rating: 7 })).status).toBe(200);
  });
});

describe("content that left the catalog", () => {
  it("keeps its progress readable and removable, while new writes naming it are refused", async () => {
    const { api } = await newUser();
    const admin = await adminApi();
    const item = testItem(`Leaving ${uniqueWord()}`);
    added.push(item.id);
    expect((await admin.post("/api/v1/admin/catalog", { items: [item] })).status).toBe(200);
    expect((await api.put(`/api/v1/sync/progress/${item.id}`, progressBody)).status).toBe(200);
    expect((await api.put(`/api/v1/sync/watchlist/${item.id}`)).status).toBe(201);

    await removeItems([item.id]);
    await reindex();
    expect((await api.put(`/api/v1/sync/progress/${item.id}`, progressBody)).status).toBe(404);
    const resume = await api.get(`/api/v1/resume/${item.id}`);
    expect(resume.status).toBe(200);
    expect(resume.json.position_seconds).toBe(600);
    expect((await api.delete(`/api/v1/sync/watchlist/${item.id}`)).status).toBe(204);
    expect((await api.delete(`/api/v1/history/${item.id}`)).status).toBe(204);
    expect((await api.get(`/api/v1/resume/${item.id}`)).status).toBe(404);
  });
});

describe("the admin catalog import", () => {
  it("makes a new item writable at once in the isolate that imported it", async () => {
    const { api } = await newUser();
    const item = testItem(`Arrival ${uniqueWord()}`);
    added.push(item.id);
    expect((await api.put(`/api/v1/sync/watchlist/${item.id}`)).status).toBe(404);
    const imported = await (await adminApi()).post("/api/v1/admin/catalog", { items: [item] });
    expect(imported.status).toBe(200);
    expect(imported.json.reindex.changed).toBe(true);
    expect((await api.put(`/api/v1/sync/watchlist/${item.id}`)).status).toBe(201);
    const session = await api.post("/api/v1/sessions", {
      content_id: item.id,
      device_id: "tv",
      duration_seconds: 5400,
    });
    expect(session.status).toBe(201);
  });

  it("makes a new item writable within seconds where another isolate published it", async () => {
    const { api } = await newUser();
    const item = testItem(`Elsewhere ${uniqueWord()}`);
    // Another isolate's import: the new catalog's snapshot and the record naming it, written to KV.
    await publishElsewhere(item);

    // Isolates re-check the published version every SEARCH_VERSION_CHECK_SECONDS (1 s in tests).
    const accepted = await eventually(
      () => api.put(`/api/v1/sync/watchlist/${item.id}`),
      (res) => res.status === 201,
      testConfig().SEARCH_VERSION_CHECK_SECONDS * 1000 + 5000,
    );
    expect(accepted.status).toBe(201);
    await reindex();
  });
});

describe("known content of every kind", () => {
  it("accepts films, series and episodes from the catalog", async () => {
    const { api } = await newUser();
    for (const id of [MATRIX, "series-distant-empire", EPISODE]) {
      expect((await api.put(`/api/v1/sync/watchlist/${id}`)).status, id).toBe(201);
    }
  });
});

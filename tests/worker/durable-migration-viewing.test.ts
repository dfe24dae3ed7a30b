import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeHlc } from "../../src/domain/hlc";
import { userStateMigrations } from "../../src/durable/migrations/user-state";
import { newUser, userStub } from "./helpers";

const VIEWING = userStateMigrations.findIndex((m) => m.name.startsWith("viewing record"));
const hlc = (ms: number, counter = 0) => encodeHlc({ ms, counter, node: "server" });
const SHOW = "series-last-garden";

describe("the viewing-record storage migration", () => {
  it("an object of the previous version keeps its history, gets a play per finished item, and Next Up from it", async () => {
    expect(VIEWING).toBeGreaterThan(0);
    const { id: userId, api } = await newUser("pre-viewing");
    const stub = userStub(userId);
    const t = Date.now() - 3_600_000;
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      for (const name of sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .toArray()
        .map((r) => r.name)
        .filter((n) => !n.startsWith("sqlite_") && !n.startsWith("_cf_"))) {
        sql.exec(`DROP TABLE "${name}"`);
      }
      // Storage as the release before this migration left it: every earlier version applied.
      const earlier = userStateMigrations.slice(0, VIEWING);
      for (const m of earlier) m.up(sql);
      sql.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
      );
      for (const m of earlier) sql.exec("INSERT INTO schema_migrations VALUES (?, ?, 1)", m.version, m.name);
      sql.exec("INSERT INTO meta (key, value) VALUES ('user_id', ?), ('hlc', ?)", userId, hlc(t, 9));
      const row = (content: string, position: number, watched: number, at: number, counter: number) =>
        sql.exec(
          `INSERT INTO progress (content_id, position, duration, state, watched, device_id, hlc, last_watched_at, deleted, dirty_since)
           VALUES (?, ?, 2400, 'stopped', ?, 'tv', ?, ?, 0, NULL)`,
          content,
          position,
          watched,
          hlc(at, counter),
          at,
        );
      row(`${SHOW}-s01e01`, 2400, 1, t, 1);
      row(`${SHOW}-s01e02`, 2300, 1, t + 1000, 2);
      row(`${SHOW}-s01e03`, 600, 0, t + 2000, 3);
      row("film-the-matrix-1999", 8100, 1, t - 5000, 4);
    });
    await evictDurableObject(stub);

    // Opened by this release: the migration ran once, after the earlier ones.
    const status = await stub.status();
    expect(status.storage_version).toBe(userStateMigrations.at(-1)?.version);
    const ledger = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version").toArray(),
    );
    expect(ledger.map((r) => r.version)).toEqual(userStateMigrations.map((m) => m.version));

    // Each finished item is one play at its last watch; the history and resume points are as they were.
    const plays = (await api.get("/api/v1/history/plays")).json.items;
    expect(plays.map((p: { content_id: string }) => p.content_id)).toEqual([
      `${SHOW}-s01e02`,
      `${SHOW}-s01e01`,
      "film-the-matrix-1999",
    ]);
    expect(plays[0].watched_at).toBe(new Date(t + 1000).toISOString());
    expect((await api.get(`/api/v1/resume/${SHOW}-s01e03`)).json).toMatchObject({ resume_position_seconds: 600 });
    expect((await api.get("/api/v1/history?kind=episode")).json.items).toMatchObject([
      { content_id: `${SHOW}-s01e03`, series_id: SHOW, plays: 0 },
      { content_id: `${SHOW}-s01e02`, series_id: SHOW, plays: 1 },
      { content_id: `${SHOW}-s01e01`, series_id: SHOW, plays: 1 },
    ]);
    // The episodes found their series: Next Up and the series' progress work on the old history.
    expect((await api.get("/api/v1/next-up")).json.items).toMatchObject([
      { series_id: SHOW, content_id: `${SHOW}-s01e03`, reason: "in_progress", resume_position_seconds: 600 },
    ]);
    expect((await api.get(`/api/v1/series/${SHOW}/progress`)).json).toMatchObject({ completed: 2, episodes: 16 });

    // Restarted again: nothing runs twice, nothing is played twice.
    await evictDurableObject(stub);
    expect((await api.get("/api/v1/history/plays")).json.items).toHaveLength(3);
  });
});

import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { checkMigrationList } from "../../src/durable/migrate";
import { searchPublisherMigrations } from "../../src/durable/migrations/search-publisher";
import worker from "../../src/index";
import type { IndexData } from "../../src/search/search-index";
import { encodeSnapshot, gzip, snapshotVersion } from "../../src/search/snapshot";
import { CURRENT_KEY, type CurrentRecord, publishIndex, SNAPSHOT_PREFIX, snapshotKey } from "../../src/search/store";
import { client, eventually, testConfig } from "./helpers";
import { indexWith, reindex, testItem, uniqueWord } from "./search-support";

const config = testConfig();

/** When a build read the catalog: now, strictly after the last stamp handed out. */
let lastStamp = 0;
const readAt = () => (lastStamp = Math.max(Date.now(), lastStamp + 1));

/** The catalog as Postgres holds it, plus one invented title: an index of a version of its own. */
async function variant(): Promise<{ data: IndexData; version: string }> {
  const data = await indexWith(testItem(`Beacon ${uniqueWord()}`));
  return { data, version: await snapshotVersion(encodeSnapshot(data)) };
}

const record = () => env.SEARCH_KV.get<CurrentRecord>(CURRENT_KEY, "json") as Promise<CurrentRecord>;
const stored = async (version: string) => (await env.SEARCH_KV.get(snapshotKey(version), "arrayBuffer")) !== null;

/** Every snapshot in KV, by version. */
async function snapshotsInKv(): Promise<string[]> {
  const versions: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.SEARCH_KV.list({ prefix: SNAPSHOT_PREFIX, ...(cursor ? { cursor } : {}) });
    versions.push(...page.keys.map((k) => k.name.slice(SNAPSHOT_PREFIX.length)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return versions;
}

async function expectNoOrphans() {
  const { version, previous } = await record();
  const named = new Set([version, ...previous]);
  expect((await snapshotsInKv()).filter((v) => !named.has(v))).toEqual([]);
  for (const v of named) expect(await stored(v)).toBe(true);
}

describe("publishing the search index when reindexes overlap", () => {
  it("the publisher's storage versions are a list numbered 1, 2, 3… with names", () => {
    expect(() => checkMigrationList(searchPublisherMigrations)).not.toThrow();
  });

  it("two reindexes at once: the later catalog read wins whatever order they finish in, and no snapshot is orphaned", async () => {
    const before = (await reindex()).version;
    const older = await variant();
    const newer = await variant();
    const olderRead = readAt();
    const newerRead = readAt();
    // The newer build finishes first; the older one, slower, publishes after it.
    const first = await publishIndex(env, config, newer.data, 0, newerRead);
    const late = await publishIndex(env, config, older.data, 0, olderRead);
    expect(first.published).toBe(true);
    expect(late.published).toBe(false);
    const current = await record();
    expect(current.version).toBe(newer.version);
    expect(current.previous[0]).toBe(before);
    expect(await stored(older.version)).toBe(false);
    await expectNoOrphans();

    // Truly at once, twice over: whichever order KV sees, the same one wins and nothing is left behind.
    for (let round = 0; round < 2; round++) {
      const a = await variant();
      const b = await variant();
      const [aRead, bRead] = [readAt(), readAt()];
      const [aReport, bReport] = await Promise.all([
        publishIndex(env, config, a.data, 0, aRead),
        publishIndex(env, config, b.data, 0, bRead),
      ]);
      expect(bReport.published).toBe(true);
      const now = await record();
      expect(now.version).toBe(b.version);
      // The older build was either live for a moment (then kept for its cursors) or never (then deleted).
      if (aReport.published) expect(now.previous[0]).toBe(a.version);
      else expect(await stored(a.version)).toBe(false);
      await expectNoOrphans();
    }
  });

  it("keeps the versions before the live one for SEARCH_SNAPSHOTS_KEPT publishes: their cursors stay valid, then they go", async () => {
    const kept = config.SEARCH_SNAPSHOTS_KEPT;
    const first = await variant();
    await publishIndex(env, config, first.data, 0, readAt());
    // A cursor on the live version, through the API.
    const anonymous = client(null);
    // Served once the Worker's isolate has re-checked KV (every second in tests).
    const page = await eventually(
      () => anonymous.get("/api/v1/search?q=the&page_size=2"),
      (res) => res.headers.get("x-search-version") === first.version,
    );
    const cursor = page.json.next_cursor as string;
    expect(cursor).toBeTruthy();

    for (let n = 1; n <= kept; n++) {
      await publishIndex(env, config, (await variant()).data, 0, readAt());
      expect(await stored(first.version)).toBe(true);
      expect((await record()).previous).toContain(first.version);
      const next = await anonymous.get(`/api/v1/search?q=the&page_size=2&cursor=${encodeURIComponent(cursor)}`);
      expect(next.status).toBe(200);
      expect(next.headers.get("x-search-version")).toBe(first.version);
    }
    await publishIndex(env, config, (await variant()).data, 0, readAt());
    expect(await stored(first.version)).toBe(false);
    expect((await record()).previous).not.toContain(first.version);
    expect((await record()).previous).toHaveLength(kept);
    await expectNoOrphans();
  });

  it("the hourly cron reindexes from the catalog and deletes snapshots no version names once they are old", async () => {
    const abandoned = await variant();
    const inFlight = await variant();
    // A build that stored its snapshot and died two hours ago, and one storing right now.
    await env.SEARCH_KV.put(snapshotKey(abandoned.version), await gzip(encodeSnapshot(abandoned.data)), {
      metadata: { built_at: Date.now() - 2 * 3600_000 },
    });
    await env.SEARCH_KV.put(snapshotKey(inFlight.version), await gzip(encodeSnapshot(inFlight.data)), {
      metadata: { built_at: Date.now() },
    });
    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env);
    const catalog = await reindex(); // the catalog as Postgres holds it: what the cron published
    expect(catalog.changed).toBe(false);
    expect((await record()).version).toBe(catalog.version);
    expect(await stored(abandoned.version)).toBe(false);
    expect(await stored(inFlight.version)).toBe(true);
    await env.SEARCH_KV.delete(snapshotKey(inFlight.version));
    await expectNoOrphans();
  });
});

import { describe, expect, it } from "vitest";
import { buildFactsData, CatalogFacts, type FactSource } from "../../src/domain/catalog-facts";
import { type EpisodeRecord, nextUp, seriesProgress } from "../../src/domain/next-up";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

/** A series with seasons of the given lengths (index 0 is specials), all added at T0 unless said. */
function series(seasons: number[], added: Record<string, number> = {}) {
  const rows: FactSource[] = [
    {
      id: "s",
      kind: "series",
      title: "Show",
      series_id: null,
      season_number: null,
      episode_number: null,
      credits_start_seconds: null,
      added_at: T0,
    },
  ];
  seasons.forEach((count, season) => {
    for (let e = 1; e <= count; e++) {
      const id = `s${season}e${e}`;
      rows.push({
        id,
        kind: "episode",
        title: `S${season}E${e}`,
        series_id: "s",
        season_number: season,
        episode_number: e,
        credits_start_seconds: 2280,
        added_at: added[id] ?? T0,
      });
    }
  });
  return new CatalogFacts(buildFactsData(rows), "v").series("s") as NonNullable<ReturnType<CatalogFacts["series"]>>;
}

/** The user's records: finished episodes (with their play count) at increasing times, then any partial ones. */
function records(entries: [id: string, plays: number, position?: number][]): Map<string, EpisodeRecord> {
  return new Map(
    entries.map(([id, plays, position], i) => [
      id,
      {
        content_id: id,
        watched: plays > 0 && position === undefined,
        position: position ?? 2400,
        duration: 2400,
        last_watched_at: T0 + (i + 1) * MIN,
        plays,
        last_play_at: plays > 0 ? T0 + (i + 1) * MIN : null,
      },
    ]),
  );
}

const pick = (choice: ReturnType<typeof nextUp>) => choice && [choice.episode.id, choice.reason];

describe("Next Up", () => {
  const show = series([0, 3, 2]);

  it("is the next episode after the last one finished, then the next season, then nothing", () => {
    expect(pick(nextUp(show, records([["s1e1", 1]]), { includeSpecials: false }))).toEqual(["s1e2", "next_episode"]);
    expect(
      pick(
        nextUp(
          show,
          records([
            ["s1e1", 1],
            ["s1e2", 1],
            ["s1e3", 1],
          ]),
          { includeSpecials: false },
        ),
      ),
    ).toEqual(["s2e1", "new_season"]);
    const all = records([
      ["s1e1", 1],
      ["s1e2", 1],
      ["s1e3", 1],
      ["s2e1", 1],
      ["s2e2", 1],
    ]);
    expect(nextUp(show, all, { includeSpecials: false })).toBeNull();
    expect(nextUp(show, new Map(), { includeSpecials: false })).toBeNull();
  });

  it("is the episode most recently started while it is not finished", () => {
    const choice = nextUp(
      show,
      records([
        ["s1e1", 1],
        ["s1e2", 0, 700],
      ]),
      { includeSpecials: false },
    );
    expect(pick(choice)).toEqual(["s1e2", "in_progress"]);
    expect(choice?.record?.position).toBe(700);
  });

  it("skips episodes already seen out of order, and follows a rewatch episode by episode", () => {
    // s1e3 seen before s1e1 and s1e2: after s1e2 comes s2e1, not s1e3 again.
    expect(
      pick(
        nextUp(
          show,
          records([
            ["s1e3", 1],
            ["s1e1", 1],
            ["s1e2", 1],
          ]),
          { includeSpecials: false },
        ),
      ),
    ).toEqual(["s2e1", "new_season"]);
    // The whole season seen, then s1e1 again: the rewatch goes on with s1e2.
    expect(
      pick(
        nextUp(
          show,
          records([
            ["s1e2", 1],
            ["s1e3", 1],
            ["s1e1", 2],
          ]),
          { includeSpecials: false },
        ),
      ),
    ).toEqual(["s1e2", "next_episode"]);
  });

  it("calls an episode added after the last finish new, and breaks ties of a season marked at once by order", () => {
    const airing = series([0, 3], { s1e3: T0 + 10 * MIN });
    expect(
      pick(
        nextUp(
          airing,
          records([
            ["s1e1", 1],
            ["s1e2", 1],
          ]),
          { includeSpecials: false },
        ),
      ),
    ).toEqual(["s1e3", "new_episode"]);
    const marked = new Map(
      ["s1e1", "s1e2", "s1e3"].map((id) => [
        id,
        { content_id: id, watched: true, position: 0, duration: 0, last_watched_at: T0, plays: 1, last_play_at: T0 },
      ]),
    );
    expect(pick(nextUp(show, marked, { includeSpecials: false }))).toEqual(["s2e1", "new_season"]);
  });

  it("leaves specials out unless they are asked for", () => {
    const withSpecials = series([2, 2]);
    const justSpecial = records([["s0e1", 0, 600]]);
    expect(nextUp(withSpecials, justSpecial, { includeSpecials: false })).toBeNull();
    expect(pick(nextUp(withSpecials, justSpecial, { includeSpecials: true }))).toEqual(["s0e1", "in_progress"]);
    expect(pick(nextUp(withSpecials, records([["s0e1", 1]]), { includeSpecials: true }))).toEqual([
      "s0e2",
      "next_episode",
    ]);
  });
});

describe("series progress", () => {
  it("counts per season and overall, specials apart", () => {
    const show = series([1, 2, 2]);
    const progress = seriesProgress(
      show,
      records([
        ["s0e1", 1],
        ["s1e1", 2],
        ["s1e2", 1],
      ]),
    );
    expect(progress).toMatchObject({ episodes: 4, completed: 2, percent: 50 });
    expect(progress.seasons.map((s) => [s.season_number, s.episodes, s.completed])).toEqual([
      [0, 1, 1],
      [1, 2, 2],
      [2, 2, 0],
    ]);
    expect(progress.seasons[1]?.items[0]).toMatchObject({ content_id: "s1e1", watched: true, plays: 2 });
  });
});

describe("catalog facts", () => {
  it("orders episodes by season and number, knows credits and series, and signs the episode list", () => {
    const rows: FactSource[] = [
      {
        id: "f",
        kind: "movie",
        title: "Film",
        series_id: null,
        season_number: null,
        episode_number: null,
        credits_start_seconds: 5000,
        added_at: T0,
      },
      {
        id: "x-2",
        kind: "episode",
        title: "E2",
        series_id: "x",
        season_number: 1,
        episode_number: 2,
        credits_start_seconds: null,
        added_at: T0,
      },
      {
        id: "x-1",
        kind: "episode",
        title: "E1",
        series_id: "x",
        season_number: 1,
        episode_number: 1,
        credits_start_seconds: null,
        added_at: T0,
      },
      {
        id: "x",
        kind: "series",
        title: "X",
        series_id: null,
        season_number: null,
        episode_number: null,
        credits_start_seconds: null,
        added_at: T0,
      },
    ];
    const facts = new CatalogFacts(buildFactsData(rows), "v1");
    expect(facts.series("x")?.episodes.map((e) => e.id)).toEqual(["x-1", "x-2"]);
    expect(facts.creditsStart("f")).toBe(5000);
    expect(facts.creditsStart("x-1")).toBeNull();
    expect(facts.seriesOf("x-2")?.title).toBe("X");
    expect(facts.episode("f")).toBeNull();
    const more = new CatalogFacts(
      buildFactsData([...rows, { ...(rows[1] as FactSource), id: "x-3", episode_number: 3 }]),
      "v2",
    );
    expect(more.series("x")?.signature).not.toBe(facts.series("x")?.signature);
    expect(CatalogFacts.empty().known).toBe(false);
  });
});

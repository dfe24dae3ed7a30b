import { describe, expect, it } from "vitest";
import {
  allowedRatingKeys,
  allowsLevel,
  allowsRating,
  levelTable,
  limitOf,
  MATURITY_LABELS,
  maturityLevel,
  RATED_KEYS,
  ratingKey,
  UNRATED_LEVEL,
} from "../../src/domain/maturity";

const pg = limitOf("PG", false);
const pgWithUnrated = limitOf("PG", true);

describe("the maturity scale", () => {
  it("puts film and TV ratings on one ladder: TV-Y < TV-Y7 < G/TV-G < PG/TV-PG < PG-13/TV-14 < R/TV-MA < NC-17", () => {
    const ladder = [["TV-Y"], ["TV-Y7"], ["G", "TV-G"], ["PG", "TV-PG"], ["PG-13", "TV-14"], ["R", "TV-MA"], ["NC-17"]];
    ladder.forEach((labels, level) => {
      for (const label of labels) expect(maturityLevel(label)).toBe(level);
    });
    expect(MATURITY_LABELS).toHaveLength(11);
  });

  it("reads catalog labels however they are written, and knows the older MPAA names", () => {
    expect(maturityLevel("pg-13")).toBe(4);
    expect(maturityLevel("PG 13")).toBe(4);
    expect(maturityLevel("tv-ma")).toBe(5);
    expect(maturityLevel("TV-Y7-FV")).toBe(1);
    expect(maturityLevel("X")).toBe(6);
    expect(maturityLevel("GP")).toBe(3);
    expect(ratingKey("PG-13")).toBe("PG13");
  });

  it("counts no rating, Not Rated, Open and unknown labels as unrated", () => {
    for (const label of [null, undefined, "", "Not Rated", "NR", "Unrated", "Open", "Approved", "18+"]) {
      expect(maturityLevel(label)).toBeNull();
    }
  });
});

describe("a limit", () => {
  it("allows content at or below it and refuses content above it", () => {
    expect(allowsRating(pg, "G")).toBe(true);
    expect(allowsRating(pg, "TV-Y7")).toBe(true);
    expect(allowsRating(pg, "PG")).toBe(true);
    expect(allowsRating(pg, "TV-PG")).toBe(true);
    expect(allowsRating(pg, "PG-13")).toBe(false);
    expect(allowsRating(pg, "TV-14")).toBe(false);
    expect(allowsRating(pg, "R")).toBe(false);
    expect(allowsRating(pg, "NC-17")).toBe(false);
  });

  it("blocks unrated content unless the setting allows it; no limit allows everything", () => {
    expect(allowsRating(pg, null)).toBe(false);
    expect(allowsRating(pg, "Not Rated")).toBe(false);
    expect(allowsRating(pgWithUnrated, null)).toBe(true);
    expect(allowsRating(pgWithUnrated, "R")).toBe(false);
    expect(allowsRating(null, "NC-17")).toBe(true);
    expect(allowsRating(null, null)).toBe(true);
  });

  it("is null for no label and for a label off the scale", () => {
    expect(limitOf(null, false)).toBeNull();
    expect(limitOf("Not Rated", false)).toBeNull();
    expect(limitOf("TV-14", true)).toEqual({ level: 4, allowUnrated: true });
  });

  it("as a level table, agrees with the predicate for every level", () => {
    for (const label of MATURITY_LABELS) {
      for (const allowUnrated of [false, true]) {
        const limit = limitOf(label, allowUnrated);
        const table = levelTable(limit as NonNullable<typeof limit>);
        for (let level = 0; level <= 6; level++) expect(table[level] === 1).toBe(allowsLevel(limit, level));
        expect(table[UNRATED_LEVEL] === 1).toBe(allowUnrated);
      }
    }
  });

  it("as SQL keys, lists exactly the rated labels it allows", () => {
    const keys = allowedRatingKeys(pg as NonNullable<typeof pg>);
    for (const key of RATED_KEYS) expect(keys.includes(key)).toBe((maturityLevel(key) as number) <= 3);
    expect(keys).toContain("TVY7FV");
    expect(keys).not.toContain("PG13");
  });
});

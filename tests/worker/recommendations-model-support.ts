/** Shared by the shared-model test files: films nobody else's tests use, viewers, rebuilding. */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { expect } from "vitest";
import { content, watchHistory } from "../../src/db/schema";
import { type Client, client, db, eventually, newUser, tokenFor } from "./helpers";

export async function adminApi() {
  return client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
}

/**
 * `count` seeded films from far down the popularity order, at an offset of this file's own, so
 * that no other test's users watch them: the co-viewing among them is what the test makes it.
 */
export function quietFilms(count: number, offset: number): Promise<{ id: string; title: string; genres: string[] }[]> {
  return db((d) =>
    d
      .select({ id: content.id, title: content.title, genres: content.genres })
      .from(content)
      .where(and(eq(content.kind, "movie"), sql`${content.votes} > 0`))
      .orderBy(asc(content.votes), content.id)
      .limit(count)
      .offset(offset),
  );
}

/** A new user who finishes each of `films`, in order. */
export async function viewer(films: readonly string[], prefix = "viewer"): Promise<{ id: string; api: Client }> {
  const user = await newUser(prefix);
  for (const film of films) expect((await user.api.put(`/api/v1/history/${film}/watched`)).status).toBe(200);
  return user;
}

/** Waits until Postgres holds `rows` finished views of these users (the queue carried them). */
export function inPostgres(userIds: readonly string[], rows: number) {
  return eventually(
    () =>
      db(async (d) => {
        const [row] = await d
          .select({ n: sql<number>`count(*)::int` })
          .from(watchHistory)
          .where(and(inArray(watchHistory.userId, [...userIds]), eq(watchHistory.active, true)));
        return row?.n ?? 0;
      }),
    (n) => n >= rows,
    30_000,
  );
}

export interface RebuildReport {
  version: string;
  changed: boolean;
  users: number;
  titles: number;
  head: number;
  neighbours: number;
  snapshot_bytes: number;
  chunks: number;
}

export async function rebuild(): Promise<RebuildReport> {
  const res = await (await adminApi()).post("/api/v1/admin/recommendations/rebuild");
  expect(res.status).toBe(200);
  return res.json as RebuildReport;
}

/** The caller's film recommendations. */
export async function filmRecommendations(api: Client, limit = 10) {
  const res = await api.post("/api/v1/recommendations", { limit, kinds: ["movie"] });
  expect(res.status).toBe(200);
  return res.json as {
    items: { content_id: string; reason: string; because_content_id: string | null; score: number }[];
    personalized: boolean;
    model_version: string | null;
  };
}

import { and, arrayContains, desc, eq, inArray } from "drizzle-orm";
import { content } from "../../src/db/schema";
import { type Client, db, eventually } from "./helpers";

/** Watches `fraction` of a content through a playback session, as a player would. */
export async function watch(api: Client, contentId: string, fraction: number): Promise<void> {
  const duration = 6000;
  const session = await api.post("/api/v1/sessions", {
    content_id: contentId,
    device_id: "tv",
    duration_seconds: duration,
  });
  if (session.status !== 201) throw new Error(`session: ${session.status} ${session.text}`);
  const moved = await api.patch(`/api/v1/sessions/${session.json.id}/position`, {
    position_seconds: Math.round(fraction * duration),
    playback_state: "paused",
  });
  if (moved.status !== 200) throw new Error(`position: ${moved.status} ${moved.text}`);
  const ended = await api.delete(`/api/v1/sessions/${session.json.id}`);
  if (ended.status !== 204) throw new Error(`end: ${ended.status}`);
}

/** The profile once the consumer has taken `views` views into account. */
export function profileWithViews(api: Client, views: number) {
  return eventually(
    () => api.get("/api/v1/profile"),
    (r) => r.status === 200 && r.json.views === views,
  ).then((r) => r.json);
}

/** The profile once the job shows as finished. */
export function profileAfterJob(api: Client, jobId: string) {
  return eventually(
    () => api.get("/api/v1/profile"),
    (r) => r.status === 200 && r.json.jobs.some((j: { job_id: string }) => j.job_id === jobId),
  ).then((r) => r.json);
}

/** The most voted films of a genre in the seeded catalog. */
export function filmsOfGenre(genre: string, count: number, skip = 0): Promise<string[]> {
  return db(async (d) => {
    const rows = await d
      .select({ id: content.id })
      .from(content)
      .where(and(eq(content.kind, "movie"), arrayContains(content.genres, [genre])))
      .orderBy(desc(content.votes), content.id)
      .limit(count)
      .offset(skip);
    return rows.map((r) => r.id);
  });
}

/** Films and series by votes, most voted first: what a new user should be shown. */
export function mostPopular(count: number): Promise<{ id: string; genres: string[] }[]> {
  return db((d) =>
    d
      .select({ id: content.id, genres: content.genres })
      .from(content)
      .where(inArray(content.kind, ["movie", "series"]))
      .orderBy(desc(content.votes), content.id)
      .limit(count),
  );
}

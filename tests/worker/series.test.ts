import { describe, expect, it } from "vitest";
import { eventually, newUser } from "./helpers";
import { addFilm, addSeries, finish, nextUp, watch } from "./viewing-support";

describe("Next Up", () => {
  it("follows a viewer through a series: next episode, next season, gone when finished, back for a new episode", async () => {
    const { api } = await newUser();
    const show = await addSeries([4, 2]);

    for (const e of [1, 2, 3]) await finish(api, show.ep(1, e));
    expect(await nextUp(api)).toMatchObject([
      { series_id: show.id, content_id: show.ep(1, 4), reason: "next_episode", season_number: 1, episode_number: 4 },
    ]);

    await finish(api, show.ep(1, 4));
    expect(await nextUp(api)).toMatchObject([{ content_id: show.ep(2, 1), reason: "new_season" }]);

    await finish(api, show.ep(2, 1));
    await finish(api, show.ep(2, 2));
    expect(await nextUp(api)).toEqual([]);

    // The season is still airing: the catalog gets episode 3, and the series comes back by itself.
    await show.addEpisode(2, 3);
    const back = await eventually(
      () => nextUp(api),
      (items) => items.length === 1,
    );
    expect(back).toMatchObject([{ content_id: show.ep(2, 3), reason: "new_episode", resume_position_seconds: null }]);
  });

  it("offers an episode in progress with its resume position", async () => {
    const { api } = await newUser();
    const show = await addSeries([3]);
    await finish(api, show.ep(1, 1));
    await watch(api, show.ep(1, 2), 1200);
    expect(await nextUp(api)).toMatchObject([
      { content_id: show.ep(1, 2), reason: "in_progress", resume_position_seconds: 1200 },
    ]);
  });

  it("lists the most recently watched series first, pages by cursor, and filters by series", async () => {
    const { api } = await newUser();
    const shows = [await addSeries([3]), await addSeries([3]), await addSeries([3])];
    for (const show of shows) await finish(api, show.ep(1, 1));
    const ids = shows.map((s) => s.id).reverse();

    const first = await api.get("/api/v1/next-up?limit=2");
    expect(first.json.items.map((i: { series_id: string }) => i.series_id)).toEqual(ids.slice(0, 2));
    const second = await api.get(`/api/v1/next-up?limit=2&cursor=${first.json.next_cursor}`);
    expect(second.json.items.map((i: { series_id: string }) => i.series_id)).toEqual(ids.slice(2));
    expect(second.json.next_cursor).toBeNull();

    expect(await nextUp(api, `?series_id=${shows[1]?.id}`)).toMatchObject([
      { series_id: shows[1]?.id, content_id: shows[1]?.ep(1, 2) },
    ]);
    expect((await api.get("/api/v1/next-up?cursor=not-ours")).status).toBe(400);
  });

  it("skips specials unless asked for them", async () => {
    const { api } = await newUser();
    const show = await addSeries([2, 2], { specials: 1 });
    await finish(api, show.ep(1, 1));
    await finish(api, show.ep(1, 2));
    expect(await nextUp(api)).toMatchObject([{ content_id: show.ep(2, 1), reason: "new_season" }]);
    await finish(api, show.ep(0, 1));
    // Watching the special does not move the series off season 2 …
    expect(await nextUp(api)).toMatchObject([{ content_id: show.ep(2, 1) }]);
    // … and with specials the first one not yet seen after it is still S2E1.
    expect(await nextUp(api, "?include_specials=true")).toMatchObject([{ content_id: show.ep(2, 1) }]);
    // A viewer who starts with the special gets it as Next Up only when specials are asked for.
    const other = await newUser();
    await watch(other.api, show.ep(0, 1), 600);
    expect(await nextUp(other.api)).toEqual([]);
    expect(await nextUp(other.api, "?include_specials=true")).toMatchObject([
      { content_id: show.ep(0, 1), reason: "in_progress", resume_position_seconds: 600 },
    ]);
  });

  it("marks a whole season watched: every episode of it is watched and Next Up moves past it", async () => {
    const { api } = await newUser();
    const show = await addSeries([3, 2]);
    const marked = await api.put(`/api/v1/history/${show.id}/watched?season=1`);
    expect(marked.status).toBe(200);
    expect(marked.json).toMatchObject({ series_id: show.id, season_number: 1, marked: 3 });
    expect(marked.json.next_up).toMatchObject({ content_id: show.ep(2, 1), reason: "new_season" });

    const progress = await api.get(`/api/v1/series/${show.id}/progress`);
    expect(progress.json.seasons[0]).toMatchObject({ season_number: 1, episodes: 3, completed: 3 });
    expect(
      progress.json.seasons[0].items.every((i: { watched: boolean; plays: number }) => i.watched && i.plays === 1),
    ).toBe(true);
    expect(progress.json.seasons[1]).toMatchObject({ season_number: 2, episodes: 2, completed: 0 });
    expect(progress.json).toMatchObject({ episodes: 5, completed: 3, percent: 60 });
    expect(progress.json.next_episode).toMatchObject({ content_id: show.ep(2, 1) });
    expect(await nextUp(api)).toMatchObject([{ content_id: show.ep(2, 1) }]);

    // A whole series, then a season the series does not have.
    expect((await api.put(`/api/v1/history/${show.id}/watched`)).json).toMatchObject({ marked: 5, next_up: null });
    expect((await api.put(`/api/v1/history/${show.id}/watched?season=9`)).status).toBe(404);
    expect((await api.put(`/api/v1/history/${show.ep(1, 1)}/watched?season=1`)).status).toBe(400);
  });

  it("reports series progress per season and overall, with plays and the next episode", async () => {
    const { api } = await newUser();
    const show = await addSeries([2, 3]);
    await finish(api, show.ep(1, 1));
    await finish(api, show.ep(1, 1));
    await finish(api, show.ep(1, 2));
    const res = await api.get(`/api/v1/series/${show.id}/progress`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ series_id: show.id, episodes: 5, completed: 2, percent: 40 });
    expect(res.json.seasons[0].items).toMatchObject([
      { content_id: show.ep(1, 1), episode_number: 1, watched: true, plays: 2 },
      { content_id: show.ep(1, 2), episode_number: 2, watched: true, plays: 1 },
    ]);
    expect(res.json.seasons[1].items[0]).toMatchObject({ watched: false, plays: 0, last_watched_at: null });
    expect(res.json.next_episode).toMatchObject({ content_id: show.ep(2, 1), reason: "new_season" });
    expect((await api.get("/api/v1/series/series-no-such-thing/progress")).status).toBe(404);
  });
});

describe("continue watching", () => {
  it("shows one card per series beside films, and every item with group=none", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const { api } = await newUser();
    const show = await addSeries([4]);
    await watch(api, show.ep(1, 1), 1200);
    await watch(api, show.ep(1, 2), 600);
    await watch(api, film, 3000, 8160);

    const grouped = await api.get("/api/v1/continue-watching");
    expect(grouped.status).toBe(200);
    expect(grouped.json.items).toMatchObject([
      { content_id: film, series_id: null, reason: null, resume_position_seconds: 3000 },
      { content_id: show.ep(1, 2), series_id: show.id, reason: "in_progress", resume_position_seconds: 600 },
    ]);

    const flat = await api.get("/api/v1/continue-watching?group=none");
    expect(flat.json.items.map((i: { content_id: string }) => i.content_id)).toEqual([
      film,
      show.ep(1, 2),
      show.ep(1, 1),
    ]);
  });

  it("a series card opens on the next episode once the last one is finished", async () => {
    const { api } = await newUser();
    const show = await addSeries([3]);
    await finish(api, show.ep(1, 1));
    const grouped = await api.get("/api/v1/continue-watching");
    expect(grouped.json.items).toMatchObject([
      { content_id: show.ep(1, 2), series_id: show.id, reason: "next_episode", resume_position_seconds: null },
    ]);
    // Without grouping, a finished episode is nothing to resume.
    expect((await api.get("/api/v1/continue-watching?group=none")).json.items).toEqual([]);
  });

  it("hiding keeps the progress and the resume point; the next position report brings the card back", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const { api } = await newUser();
    const show = await addSeries([3]);
    await watch(api, film, 3000, 8160);
    await watch(api, show.ep(1, 1), 900);

    const hidden = await api.put(`/api/v1/continue-watching/${film}/hidden`);
    expect(hidden.status).toBe(200);
    expect(hidden.json).toMatchObject({ card_id: film, hidden: true });
    // An episode hides its series' card.
    expect((await api.put(`/api/v1/continue-watching/${show.ep(1, 1)}/hidden`)).json.card_id).toBe(show.id);
    expect((await api.get("/api/v1/continue-watching")).json.items).toEqual([]);
    expect((await api.get("/api/v1/continue-watching?group=none")).json.items).toEqual([]);
    expect(await nextUp(api)).toEqual([]);

    const resume = await api.get(`/api/v1/resume/${film}`);
    expect(resume.json).toMatchObject({ position_seconds: 3000, resume_position_seconds: 3000 });
    const session = await api.post("/api/v1/sessions", {
      content_id: film,
      device_id: "phone",
      duration_seconds: 8160,
    });
    expect(session.json.resume_position_seconds).toBe(3000);
    await api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: 3100 });
    expect((await api.get("/api/v1/continue-watching")).json.items).toMatchObject([
      { content_id: film, resume_position_seconds: 3100 },
    ]);

    // Unhiding by hand brings the series back; unhiding what is not hidden is a 404.
    expect((await api.delete(`/api/v1/continue-watching/${show.id}/hidden`)).status).toBe(204);
    expect(
      (await api.get("/api/v1/continue-watching")).json.items.map((i: { content_id: string }) => i.content_id),
    ).toEqual([film, show.ep(1, 1)]);
    expect((await api.delete(`/api/v1/continue-watching/${show.id}/hidden`)).status).toBe(404);
  });
});

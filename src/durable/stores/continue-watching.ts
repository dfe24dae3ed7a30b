import type { CatalogFacts } from "../../domain/catalog-facts";
import type { NextUpReason } from "../../domain/next-up";
import { type ResumeRules, resumePosition } from "../../domain/resume";
import { type HiddenStore, stillHidden } from "./hidden";
import type { HistoryItem, PlaybackStore } from "./playback";
import type { SeriesNext, SeriesWatch } from "./series-watch";

export interface NextUpItem {
  series_id: string;
  series_title: string;
  content_id: string;
  title: string;
  season_number: number;
  episode_number: number;
  resume_position_seconds: number | null;
  reason: NextUpReason;
  last_watched_at: string;
}

/** A continue-watching card: a film in progress, or a series as its Next Up episode. */
export interface ContinueItem extends HistoryItem {
  /** Why this episode, for a series card; null for a film. */
  reason: NextUpReason | null;
  /** The episode's place in its series; null for a film. */
  season_number: number | null;
  episode_number: number | null;
}

type Cursor = { t: number; k: string };

/**
 * The rows that say what to watch now: Next Up (one episode per series) and continue watching
 * (films in progress beside one card per series, or every item with `group: "none"`), with the
 * cards the user hid left out while the hide holds.
 */
export class ContinueWatching {
  constructor(
    private readonly deps: {
      playback: PlaybackStore;
      seriesWatch: SeriesWatch;
      hidden: HiddenStore;
      facts: () => CatalogFacts;
      rules: ResumeRules;
    },
  ) {}

  /** The card an item belongs to: its series for an episode the catalog knows, else itself. */
  cardKey(contentId: string): string {
    return this.deps.facts().seriesOf(contentId)?.id ?? contentId;
  }

  nextUp(opts: { includeSpecials: boolean; seriesId?: string | undefined; limit: number; after?: Cursor | null }): {
    items: NextUpItem[];
    next: Cursor | null;
  } {
    const hidden = this.deps.hidden.active();
    const items: NextUpItem[] = [];
    let next: Cursor | null = null;
    const after = opts.after ? { t: opts.after.t, s: opts.after.k } : null;
    for (const choice of this.deps.seriesWatch.choices({ ...opts, after })) {
      if (stillHidden(hidden.get(choice.series_id), choice.activity_hlc)) continue;
      const item = this.nextUpItem(choice);
      if (!item) continue;
      if (items.length === opts.limit) {
        const last = items.at(-1) as NextUpItem;
        next = { t: Date.parse(last.last_watched_at), k: last.series_id };
        break;
      }
      items.push(item);
    }
    return { items, next };
  }

  /** Films in progress and one card per series (or every resumable item), most recent first. */
  page(opts: { group: "series" | "none"; limit: number; after?: Cursor | null }): {
    items: ContinueItem[];
    next: Cursor | null;
  } {
    const hidden = this.deps.hidden.active();
    // Preloaded, so the skip test below runs no query while history reads its rows.
    const seriesActivity = new Map(
      [...hidden.keys()].map((key) => [key, this.deps.seriesWatch.activity(key)] as const),
    );
    const isHidden = (item: HistoryItem) => {
      const key = item.series_id ?? item.content_id;
      const activity = item.series_id ? (seriesActivity.get(key) ?? "") : (item.hlc ?? "");
      return stillHidden(hidden.get(key), activity > (item.hlc ?? "") ? activity : (item.hlc ?? ""));
    };
    const after = opts.after ? { t: opts.after.t, c: opts.after.k } : null;
    const films = this.deps.playback.history({
      resumableOnly: true,
      kind: opts.group === "none" ? undefined : "movie",
      skip: isHidden,
      limit: opts.limit + 1,
      after,
    }).items;
    const cards: (ContinueItem & { key: string; t: number })[] = films.map((item) => ({
      ...item,
      ...this.place(item.content_id),
      reason: null,
      key: item.content_id,
      t: Date.parse(item.last_watched_at ?? "") || 0,
    }));
    if (opts.group === "series") {
      let taken = 0;
      const seriesAfter = opts.after ? { t: opts.after.t, s: opts.after.k } : null;
      for (const choice of this.deps.seriesWatch.choices({ includeSpecials: false, after: seriesAfter })) {
        if (stillHidden(hidden.get(choice.series_id), choice.activity_hlc)) continue;
        const card = this.seriesCard(choice);
        cards.push({ ...card, key: choice.series_id, t: choice.last_watched_at });
        if (++taken > opts.limit) break;
      }
    }
    cards.sort((a, b) => b.t - a.t || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const page = cards.slice(0, opts.limit);
    const last = page.at(-1);
    return {
      items: page.map(({ key: _key, t: _t, ...item }) => item),
      next: cards.length > opts.limit && last ? { t: last.t, k: last.key } : null,
    };
  }

  private place(contentId: string): { season_number: number | null; episode_number: number | null } {
    const episode = this.deps.facts().episode(contentId);
    return { season_number: episode?.season ?? null, episode_number: episode?.episode ?? null };
  }

  private nextUpItem(choice: SeriesNext): NextUpItem | null {
    const facts = this.deps.facts();
    const series = facts.series(choice.series_id);
    const episode = facts.episode(choice.content_id);
    if (!series || !episode) return null;
    // Only an episode in progress has a resume point to read.
    const progress = choice.reason === "in_progress" ? this.deps.playback.progress(choice.content_id) : null;
    return {
      series_id: series.id,
      series_title: series.title,
      content_id: episode.id,
      title: episode.title,
      season_number: episode.season,
      episode_number: episode.episode,
      resume_position_seconds: choice.reason === "in_progress" ? (progress?.resume_position_seconds ?? null) : null,
      reason: choice.reason,
      last_watched_at: new Date(choice.last_watched_at).toISOString(),
    };
  }

  private seriesCard(choice: SeriesNext): ContinueItem {
    const item = this.deps.playback.historyItem(choice.content_id);
    const lastWatchedAt = new Date(choice.last_watched_at).toISOString();
    if (item) {
      const resume =
        choice.reason === "in_progress"
          ? resumePosition(item.position_seconds, item.duration_seconds, this.deps.rules)
          : null;
      return {
        ...item,
        ...this.place(choice.content_id),
        resume_position_seconds: resume,
        reason: choice.reason,
        last_watched_at: lastWatchedAt,
      };
    }
    return {
      content_id: choice.content_id,
      resume_position_seconds: null,
      position_seconds: 0,
      duration_seconds: 0,
      completion_percentage: 0,
      watched: false,
      playback_state: "stopped",
      device_id: null,
      last_watched_at: lastWatchedAt,
      hlc: null,
      series_id: choice.series_id,
      plays: 0,
      ...this.place(choice.content_id),
      reason: choice.reason,
    };
  }
}

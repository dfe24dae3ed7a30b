import { makeEvent } from "../../contracts/events";
import type { RatingItem } from "../../contracts/sync";
import { compareHlc, decodeHlc, encodeHlc, type Hlc } from "../../domain/hlc";
import type { StoreContext } from "./context";

interface RatingRow {
  content_id: string;
  rating: number | null;
  rated_at: number;
  hlc: string;
  [key: string]: SqlStorageValue;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The user's ratings, 1-10 per content: one last-writer-wins register per content, ordered by
 * HLC like progress, so a rating made offline on one device and a removal on another converge.
 * A removal keeps the register (rating null) so an older write cannot bring the rating back.
 */
export class RatingStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly ctx: StoreContext,
  ) {}

  /** Applies a write if its HLC is newer than the register's; returns whether it won. */
  write(contentId: string, rating: number | null, hlc: Hlc, at: number): boolean {
    const current = this.row(contentId);
    if (current && compareHlc(decodeHlc(current.hlc), hlc) >= 0) return false;
    if (!current && rating === null) return false;
    const stamp = encodeHlc(hlc);
    this.sql.exec(
      `INSERT INTO ratings (content_id, rating, rated_at, hlc) VALUES (?, ?, ?, ?)
       ON CONFLICT (content_id) DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at, hlc = excluded.hlc`,
      contentId,
      rating,
      at,
      stamp,
    );
    this.ctx.changes.record("rating", contentId, stamp, Date.now());
    this.emit({ content_id: contentId, rating, rated_at: at, hlc: stamp });
    return true;
  }

  get(contentId: string): RatingItem | null {
    const row = this.row(contentId);
    return row && row.rating !== null ? toItem(row) : null;
  }

  /** true when the content has a live rating. */
  has(contentId: string): boolean {
    return this.get(contentId) !== null;
  }

  all(): RatingItem[] {
    return this.sql
      .exec<RatingRow>("SELECT * FROM ratings WHERE rating IS NOT NULL ORDER BY rated_at DESC, content_id")
      .toArray()
      .map(toItem);
  }

  /** Most recently rated first. */
  page(opts: { limit: number; after?: { t: number; c: string } | null }): {
    items: RatingItem[];
    next: { t: number; c: string } | null;
  } {
    const rows = this.sql
      .exec<RatingRow>(
        `SELECT * FROM ratings WHERE rating IS NOT NULL
           AND (? IS NULL OR rated_at < ? OR (rated_at = ? AND content_id > ?))
         ORDER BY rated_at DESC, content_id LIMIT ?`,
        opts.after?.t ?? null,
        opts.after?.t ?? 0,
        opts.after?.t ?? 0,
        opts.after?.c ?? "",
        opts.limit + 1,
      )
      .toArray();
    const page = rows.slice(0, opts.limit);
    const last = page.at(-1);
    return {
      items: page.map(toItem),
      next: rows.length > opts.limit && last ? { t: last.rated_at, c: last.content_id } : null,
    };
  }

  /** Emits every register again (an operator's repair); HLC-guarded downstream. */
  reemitAll(): number {
    const rows = this.sql.exec<RatingRow>("SELECT * FROM ratings").toArray();
    for (const row of rows) this.emit(row);
    return rows.length;
  }

  private emit(row: { content_id: string; rating: number | null; rated_at: number; hlc: string }): void {
    this.ctx.outbox.append(
      makeEvent(
        "rating-changed",
        this.ctx.userId,
        row.hlc,
        { content_id: row.content_id, rating: row.rating, rated_at: iso(row.rated_at) },
        new Date(),
      ),
    );
  }

  private row(contentId: string): RatingRow | undefined {
    return this.sql.exec<RatingRow>("SELECT * FROM ratings WHERE content_id = ?", contentId).toArray()[0];
  }
}

function toItem(row: RatingRow): RatingItem {
  return { content_id: row.content_id, rating: row.rating as number, rated_at: iso(row.rated_at), hlc: row.hlc };
}

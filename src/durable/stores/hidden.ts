import type { HiddenItem } from "../../contracts/sync";
import { compareHlc, decodeHlc, encodeHlc, type Hlc } from "../../domain/hlc";
import type { StoreContext } from "./context";

interface HiddenRow {
  content_id: string;
  hidden: number;
  hidden_at: number;
  hlc: string;
  [key: string]: SqlStorageValue;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * "Hide from continue watching": one last-writer-wins flag per card (a film's id, or a series'
 * id for any of its episodes). The progress stays; a hide holds only while it is newer than the
 * card's latest progress write, so the next position report brings the card back on every
 * replica without anyone clearing the flag.
 */
export class HiddenStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly ctx: StoreContext,
  ) {}

  /** Applies a write if its HLC is newer than the flag's; returns whether it won. */
  write(key: string, hidden: boolean, hlc: Hlc, at: number): boolean {
    const current = this.row(key);
    if (current && compareHlc(decodeHlc(current.hlc), hlc) >= 0) return false;
    if (!current && !hidden) return false;
    const stamp = encodeHlc(hlc);
    this.sql.exec(
      `INSERT INTO hidden (content_id, hidden, hidden_at, hlc) VALUES (?, ?, ?, ?)
       ON CONFLICT (content_id) DO UPDATE SET hidden = excluded.hidden, hidden_at = excluded.hidden_at, hlc = excluded.hlc`,
      key,
      hidden ? 1 : 0,
      at,
      stamp,
    );
    this.ctx.changes.record("hidden", key, stamp, Date.now());
    return true;
  }

  /** The hides in force: card key → the hide's HLC (compare with the card's latest progress HLC). */
  active(): Map<string, string> {
    const rows = this.sql.exec<HiddenRow>("SELECT content_id, hlc FROM hidden WHERE hidden = 1").toArray();
    return new Map(rows.map((r) => [r.content_id, r.hlc]));
  }

  item(key: string): HiddenItem | null {
    const row = this.row(key);
    return row?.hidden ? toItem(row) : null;
  }

  all(): HiddenItem[] {
    return this.sql.exec<HiddenRow>("SELECT * FROM hidden WHERE hidden = 1 ORDER BY content_id").toArray().map(toItem);
  }

  private row(key: string): HiddenRow | undefined {
    return this.sql.exec<HiddenRow>("SELECT * FROM hidden WHERE content_id = ?", key).toArray()[0];
  }
}

/** A hide holds while it is newer than the card's latest progress write. */
export const stillHidden = (hideHlc: string | undefined, activityHlc: string) =>
  hideHlc !== undefined && hideHlc > activityHlc;

function toItem(row: HiddenRow): HiddenItem {
  return { content_id: row.content_id, hidden_at: iso(row.hidden_at), hlc: row.hlc };
}

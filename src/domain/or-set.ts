import { laterHlc } from "./hlc";

/**
 * Observed-remove set (OR-Set), the watchlist's CRDT. Every add makes a unique tag; a remove
 * tombstones only the tags it observed, so an add made concurrently on another device survives
 * (add wins). Entries merge by a join (commutative, associative, idempotent), so replicas that
 * receive the same entries in any order, any number of times, hold the same set.
 */
export interface OrSetEntry {
  tag: string;
  element: string;
  /** Encoded HLC of the add; null while only a remove that observed the tag has arrived. */
  added: string | null;
  /** Encoded HLC of the latest remove that observed the tag; null while the tag is live. */
  removed: string | null;
}

/** One element of the effective set: its live tags and when it was first added. */
export interface OrSetElement {
  element: string;
  /** The earliest live add's HLC: "when added", the same on every replica. */
  addedHlc: string;
  tags: string[];
}

/** A tag names one add of one element; reusing it for another element is a client bug. */
export class TagConflictError extends Error {
  override name = "TagConflictError";
  constructor(
    readonly tag: string,
    readonly existing: string,
    readonly incoming: string,
  ) {
    super(`tag ${tag} belongs to ${existing}, not ${incoming}`);
  }
}

export const isLive = (e: OrSetEntry): boolean => e.added !== null && e.removed === null;
export const isTombstone = (e: OrSetEntry): boolean => e.removed !== null;

/** The least upper bound of two states of one tag. Throws TagConflictError for a reused tag. */
export function joinEntry(current: OrSetEntry | undefined, incoming: OrSetEntry): OrSetEntry {
  if (!current) return { ...incoming };
  if (current.element !== incoming.element) throw new TagConflictError(current.tag, current.element, incoming.element);
  // A tag is added once; if a client re-sends it with another stamp, the earliest stands everywhere.
  const added =
    current.added === null
      ? incoming.added
      : incoming.added === null || current.added <= incoming.added
        ? current.added
        : incoming.added;
  return { tag: current.tag, element: current.element, added, removed: laterHlc(current.removed, incoming.removed) };
}

export const sameEntry = (a: OrSetEntry | undefined, b: OrSetEntry): boolean =>
  a !== undefined && a.element === b.element && a.added === b.added && a.removed === b.removed;

export const addEntry = (element: string, tag: string, hlc: string): OrSetEntry => ({
  tag,
  element,
  added: hlc,
  removed: null,
});

export const removeEntry = (element: string, tag: string, hlc: string): OrSetEntry => ({
  tag,
  element,
  added: null,
  removed: hlc,
});

/** The effective elements of a list of entries, most recently added first (ties by element). */
export function effectiveElements(entries: Iterable<OrSetEntry>): OrSetElement[] {
  const byElement = new Map<string, OrSetElement>();
  for (const e of entries) {
    if (!isLive(e)) continue;
    const added = e.added as string;
    const seen = byElement.get(e.element);
    if (!seen) byElement.set(e.element, { element: e.element, addedHlc: added, tags: [e.tag] });
    else {
      seen.tags.push(e.tag);
      if (added < seen.addedHlc) seen.addedHlc = added;
    }
  }
  const list = [...byElement.values()];
  for (const item of list) item.tags.sort();
  return list.sort((a, b) =>
    a.addedHlc === b.addedHlc ? (a.element < b.element ? -1 : 1) : a.addedHlc < b.addedHlc ? 1 : -1,
  );
}

/** An in-memory OR-Set replica: what a client keeps, and the reference the server's store follows. */
export class OrSet {
  private readonly entries = new Map<string, OrSetEntry>();
  private readonly tagsOf = new Map<string, Set<string>>();

  /** Joins one entry in; returns whether the state changed. */
  apply(incoming: OrSetEntry): boolean {
    const current = this.entries.get(incoming.tag);
    const next = joinEntry(current, incoming);
    if (sameEntry(current, next)) return false;
    this.entries.set(next.tag, next);
    let tags = this.tagsOf.get(next.element);
    if (!tags) {
      tags = new Set();
      this.tagsOf.set(next.element, tags);
    }
    tags.add(next.tag);
    return true;
  }

  add(element: string, tag: string, hlc: string): boolean {
    return this.apply(addEntry(element, tag, hlc));
  }

  /** Tombstones the given observed tags (also ones whose add has not arrived yet). */
  remove(element: string, tags: readonly string[], hlc: string): boolean {
    let changed = false;
    for (const tag of tags) changed = this.apply(removeEntry(element, tag, hlc)) || changed;
    return changed;
  }

  /** Removes the element as this replica sees it: tombstones its live tags and returns them. */
  removeObserved(element: string, hlc: string): string[] {
    const tags = this.liveTags(element);
    this.remove(element, tags, hlc);
    return tags;
  }

  /** State-based merge: joins every entry of another replica. */
  merge(other: OrSet | Iterable<OrSetEntry>): void {
    for (const entry of other instanceof OrSet ? other.entries.values() : other) this.apply(entry);
  }

  has(element: string): boolean {
    return this.liveTags(element).length > 0;
  }

  liveTags(element: string): string[] {
    const tags = this.tagsOf.get(element);
    if (!tags) return [];
    const live: string[] = [];
    for (const tag of tags) if (isLive(this.entries.get(tag) as OrSetEntry)) live.push(tag);
    return live.sort();
  }

  elements(): OrSetElement[] {
    return effectiveElements(this.entries.values());
  }

  /**
   * Drops tombstones the caller has found safe to forget (every replica has seen them, or they
   * are older than the retention). Live entries are never dropped. Returns how many went.
   */
  collect(isSafe: (entry: OrSetEntry) => boolean): number {
    let dropped = 0;
    for (const [tag, entry] of this.entries) {
      if (!isTombstone(entry) || !isSafe(entry)) continue;
      this.entries.delete(tag);
      const tags = this.tagsOf.get(entry.element);
      tags?.delete(tag);
      if (tags?.size === 0) this.tagsOf.delete(entry.element);
      dropped++;
    }
    return dropped;
  }

  get size(): { entries: number; tombstones: number } {
    let tombstones = 0;
    for (const e of this.entries.values()) if (isTombstone(e)) tombstones++;
    return { entries: this.entries.size, tombstones };
  }

  /** Every entry, ordered by tag: equal snapshots mean equal replicas. */
  snapshot(): OrSetEntry[] {
    return [...this.entries.values()]
      .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
      .map((e) => ({ ...e }));
  }
}

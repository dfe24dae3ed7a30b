import type { SyncDocument } from "../contracts/sync";
import { encodeCursor } from "../domain/cursor";
import { encodeHlc } from "../domain/hlc";
import type { UserStores } from "./stores";

/**
 * The full state, or the current state of every key changed after `since`. A cursor from before
 * the change log's horizon (garbage collected) or after its head (not issued here) gets the full
 * state, with the reason.
 */
export function buildSyncDocument(
  stores: UserStores,
  since: number | null,
  connected: ReadonlySet<string>,
  now = Date.now(),
): SyncDocument {
  const { changes } = stores;
  const head = changes.head;
  const reason: SyncDocument["reason"] =
    since === null ? "initial" : since > head ? "unknown-cursor" : since < changes.horizon ? "gc" : null;
  const doc: SyncDocument = {
    cursor: encodeCursor({ s: head }),
    full: reason !== null,
    reason,
    hlc: encodeHlc(stores.clock.current),
    watchlist: { items: [], removed: [] },
    progress: { items: [], removed: [] },
    devices: { items: [], removed: [] },
    ratings: { items: [], removed: [] },
    hidden: { items: [], removed: [] },
    plays: { items: [], removed: [] },
  };
  if (!stores.userId) return doc;
  if (reason !== null) {
    doc.watchlist.items = stores.watchlist.all();
    doc.progress.items = stores.playback
      .allProgress()
      .filter((p) => !p.deleted)
      .map(({ deleted: _deleted, ...item }) => item);
    doc.devices.items = stores.devices.all(now, connected);
    doc.ratings.items = stores.ratings.all();
    doc.hidden.items = stores.hidden.all();
    doc.plays.items = stores.plays.all();
    return doc;
  }
  for (const change of changes.since(since as number)) {
    if (change.kind === "watchlist") {
      const item = stores.watchlist.item(change.key);
      if (item) doc.watchlist.items.push(item);
      else doc.watchlist.removed.push(change.key);
    } else if (change.kind === "progress") {
      const item = stores.playback.progress(change.key);
      if (item) doc.progress.items.push(item);
      else doc.progress.removed.push(change.key);
    } else if (change.kind === "device") {
      const item = stores.devices.get(change.key, now, connected);
      if (item) doc.devices.items.push(item);
      else doc.devices.removed.push(change.key);
    } else if (change.kind === "rating") {
      const item = stores.ratings.get(change.key);
      if (item) doc.ratings.items.push(item);
      else doc.ratings.removed.push(change.key);
    } else if (change.kind === "hidden") {
      const item = stores.hidden.item(change.key);
      if (item) doc.hidden.items.push(item);
      else doc.hidden.removed.push(change.key);
    } else {
      const item = stores.plays.item(change.key);
      if (item) doc.plays.items.push(item);
      else doc.plays.removed.push(change.key);
    }
  }
  return doc;
}

import type { ChangeLog } from "./change-log";
import type { ServerClock } from "./meta";
import type { Outbox } from "./outbox";

/**
 * What every store that changes the user's state writes to besides its own tables: the outbox
 * (events, in the same transaction), the change log (delta sync) and the server clock (stamps).
 */
export interface StoreContext {
  /** The user this object belongs to: the object's name. */
  userId: string;
  outbox: Outbox;
  changes: ChangeLog;
  clock: ServerClock;
}

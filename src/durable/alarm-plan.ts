import type { Config } from "../config";
import type { EventEnvelope } from "../contracts/events";
import type { SocketHub } from "./socket-hub";
import type { UserStores } from "./stores";
import type { TargetBacklog } from "./stores/outbox";
import type { WritePipeline } from "./write-pipeline";

/** Everything the object's one alarm wakes it for. */
export type DeadlineName = "outbox" | "idle-sessions" | "history-flush" | "presence" | "gc";

/**
 * The object's alarm as a plan of named deadlines: each says when its work is next due, the
 * alarm is set at the earliest, and one wake does every piece of work that is due. The sweeps
 * (idle sessions, history write-through, presence, garbage collection) run in one transaction
 * and do nothing when nothing is due; the outbox drains when its deadline has come.
 */
export class AlarmPlan {
  private readonly deadlines: Record<DeadlineName, (now: number) => number | null>;

  constructor(
    private readonly deps: {
      storage: DurableObjectStorage;
      stores: UserStores;
      hub: SocketHub;
      config: Config;
      /** A target's queue, read at every drain: the binding, not a copy of it. */
      queue: (target: string) => Queue<EventEnvelope> | undefined;
      /** Tells the service-wide delivery monitor about targets behind (best effort). */
      report?: (backlogs: TargetBacklog[]) => Promise<void>;
    },
  ) {
    const { stores, hub, config } = deps;
    const user = (deadline: (now: number) => number | null) => (now: number) => (stores.userId ? deadline(now) : null);
    this.deadlines = {
      outbox: () => stores.outbox.nextAt(),
      "idle-sessions": user(() => stores.playback.nextIdleDeadline(config.SESSION_IDLE_SECONDS * 1000)),
      "history-flush": user(() => stores.playback.nextFlushDeadline(config.HISTORY_FLUSH_SECONDS * 1000)),
      presence: user(() => stores.devices.presenceDeadline(hub.connectedDevices())),
      gc: user((now) => stores.gcDeadline(now)),
    };
  }

  /** Every deadline's next time (null: nothing pending), for status and for scheduling. */
  next(now = Date.now()): Record<DeadlineName, number | null> {
    const entries = Object.entries(this.deadlines).map(([name, at]) => [name, at(now)] as const);
    return Object.fromEntries(entries) as Record<DeadlineName, number | null>;
  }

  /** Sets the alarm at the earliest deadline, unless one is already set sooner. */
  async schedule(now = Date.now()): Promise<void> {
    const candidates = Object.values(this.next(now)).filter((at): at is number => at !== null);
    if (candidates.length === 0) return;
    const next = Math.max(now, Math.min(...candidates));
    const current = await this.deps.storage.getAlarm();
    if (current === null || current > next) await this.deps.storage.setAlarm(next);
  }

  /** The alarm handler's work: the sweeps, the outbox when due, then the next alarm. */
  async run(pipeline: WritePipeline, now = Date.now()): Promise<void> {
    const { stores, hub, config } = this.deps;
    if (stores.userId) {
      const before = stores.changes.head;
      pipeline.transaction(() => {
        const idleMs = config.SESSION_IDLE_SECONDS * 1000;
        for (const id of stores.playback.idleSessionIds(now, idleMs)) stores.playback.endSession(id, now, "idle");
        stores.playback.flushDirty(now, config.HISTORY_FLUSH_SECONDS * 1000);
        stores.devices.expirePresence(now, hub.connectedDevices());
        stores.collectGarbage(now);
      });
      pipeline.pushAfter(before, null);
    }
    const due = this.deadlines.outbox(now);
    const drained = due !== null && due <= now;
    if (drained) await stores.outbox.drain(this.deps.queue, now, config.OUTBOX_MAX_BACKOFF_SECONDS);
    await this.schedule();
    // After the next alarm is set: the monitor's answer never delays or loses it.
    if (drained) await this.#report();
  }

  /** Figures of the targets behind go to the monitor; its outage never fails the alarm. */
  async #report(): Promise<void> {
    const { stores, report } = this.deps;
    if (!report || !stores.userId) return;
    const backlogs = stores.outbox.backlogToReport();
    if (backlogs.length === 0) return;
    try {
      await report(backlogs);
      stores.outbox.markReported(backlogs);
    } catch (error) {
      console.error(`delivery monitor: ${String(error)}`);
    }
  }
}

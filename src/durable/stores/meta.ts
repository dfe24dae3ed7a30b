import { decodeHlc, encodeHlc, type Hlc, HlcClock } from "../../domain/hlc";

/** Small named values of the object (its user, its clock, its write budget), one row each. */
export class Meta {
  constructor(private readonly sql: SqlStorage) {}

  get(key: string): string | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row?.value ?? null;
  }

  set(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}

/**
 * The server replica's hybrid logical clock, restored from storage at construction and saved at
 * the end of every write transaction, so stamps never go back across restarts.
 */
export class ServerClock {
  private readonly clock: HlcClock;

  constructor(
    private readonly meta: Meta,
    node: string,
    maxDriftMs: number,
  ) {
    const saved = meta.get("hlc");
    this.clock = new HlcClock(node, saved ? decodeHlc(saved) : null, Date.now, maxDriftMs);
  }

  tick(): Hlc {
    return this.clock.tick();
  }

  /** A remote stamp merged in: the next local stamp comes after it. */
  receive(remote: Hlc): void {
    this.clock.receive(remote);
  }

  /** False for a stamp too far ahead of the server's wall clock. */
  accepts(remote: Hlc): boolean {
    return this.clock.accepts(remote);
  }

  get current(): Hlc {
    return this.clock.current;
  }

  /** Call inside the write transaction. */
  save(): void {
    this.meta.set("hlc", encodeHlc(this.clock.current));
  }
}

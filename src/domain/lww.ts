/**
 * Last-writer-wins register ordered by HLC: the write with the greatest stamp wins on every
 * replica, whatever order the writes arrive in. The HLC's node id already breaks ties between
 * devices; two writes with the very same stamp are the same write, and if a buggy client sends
 * different values under one stamp, the value's canonical JSON decides, so replicas still agree.
 */
export interface LwwRegister<T> {
  value: T;
  /** Encoded HLC (encoded HLCs sort as strings). */
  hlc: string;
}

/** Whether `incoming` beats `current` (a register nobody wrote loses to any write). */
export function lwwWins<T>(current: LwwRegister<T> | undefined, incoming: LwwRegister<T>): boolean {
  if (!current) return true;
  if (incoming.hlc !== current.hlc) return incoming.hlc > current.hlc;
  return canonical(incoming.value) > canonical(current.value);
}

export function lwwMerge<T>(a: LwwRegister<T> | undefined, b: LwwRegister<T>): LwwRegister<T> {
  return lwwWins(a, b) ? b : (a as LwwRegister<T>);
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`)
    .join(",")}}`;
}

/** One LWW register per key. */
export class LwwMap<T> {
  private readonly registers = new Map<string, LwwRegister<T>>();

  /** Applies a write; returns whether it won. */
  set(key: string, write: LwwRegister<T>): boolean {
    if (!lwwWins(this.registers.get(key), write)) return false;
    this.registers.set(key, write);
    return true;
  }

  get(key: string): LwwRegister<T> | undefined {
    return this.registers.get(key);
  }

  get size(): number {
    return this.registers.size;
  }

  /** Every register, ordered by key. */
  snapshot(): [string, LwwRegister<T>][] {
    return [...this.registers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/**
 * The progress register of one content (a movie or an episode): a last-writer-wins register
 * whose value is the whole write. The register's state is the write with the greatest HLC, so it
 * is a function of the set of writes a replica has seen, never of their arrival order:
 * - a duration of 0 ("unknown") is a value like any other: the winning write's duration is the
 *   register's, whatever an older write said (keeping an older duration would make the state
 *   depend on which write came first);
 * - `watched` is the write's own mark when it carries one, else the resume rules applied to the
 *   write's position and duration, so it too depends on the winning write only;
 * - two different writes under one HLC (two devices whose clocks produced the same stamp) are
 *   ordered by their canonical JSON, so every replica keeps the same one.
 */
import { lwwWins } from "./lww";
import { isWatched, type ResumeRules } from "./resume";

export type ProgressState = "playing" | "paused" | "stopped";

/** One write to a register, as a replica receives it. */
export interface ProgressWrite {
  position: number;
  /** 0 when the writer does not know the duration. */
  duration: number;
  state: ProgressState;
  device_id: string | null;
  /** An explicit mark (marked watched, unwatched, removed); absent: the resume rules decide. */
  watched?: boolean | undefined;
  deleted?: boolean | undefined;
  /** When the viewing happened (ms), as the write says. */
  at: number;
  /** Encoded HLC of the write. */
  hlc: string;
}

/** What a register holds: the winning write, resolved. */
export interface ProgressRegister {
  position: number;
  duration: number;
  state: ProgressState;
  device_id: string | null;
  watched: boolean;
  deleted: boolean;
  at: number;
  hlc: string;
}

/**
 * The register a write makes on its own. `creditsStart` is where the catalog says the content's
 * credits start (a fact of the content, the same on every replica): reaching it is finished too.
 */
export function resolveProgressWrite(
  write: ProgressWrite,
  rules: ResumeRules,
  creditsStart: number | null = null,
): ProgressRegister {
  const deleted = write.deleted === true;
  return {
    position: write.position,
    duration: write.duration,
    state: write.state,
    device_id: write.device_id,
    watched: !deleted && (write.watched ?? isWatched(write.position, write.duration, rules, creditsStart)),
    deleted,
    at: write.at,
    hlc: write.hlc,
  };
}

const writeValue = ({ hlc: _hlc, ...value }: ProgressRegister) => value;

/** Whether `incoming` replaces `current`: a greater HLC, or the same HLC and the greater value. */
export function progressWins(current: ProgressRegister | undefined, incoming: ProgressRegister): boolean {
  return lwwWins(current && { hlc: current.hlc, value: writeValue(current) }, {
    hlc: incoming.hlc,
    value: writeValue(incoming),
  });
}

/** The join of a register and a write: commutative, associative and idempotent. */
export function mergeProgress(current: ProgressRegister | undefined, incoming: ProgressRegister): ProgressRegister {
  return progressWins(current, incoming) ? incoming : (current as ProgressRegister);
}

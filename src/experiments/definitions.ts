import type { Config } from "../config";
import { withDatabase } from "../db/client";
import { loadExperiments } from "../db/experiments";
import { type Allocation, type CompiledAllocation, compileAllocation, type VariantWeight } from "../domain/experiments";

export interface Experiment {
  id: string;
  name: string;
  variants: VariantWeight[];
  allocation: Allocation;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface LoadedExperiment extends Experiment {
  compiled: CompiledAllocation;
}

interface Snapshot {
  loadedAt: number;
  byId: Map<string, LoadedExperiment>;
  /** Ids in order, for the paginated listing. */
  ids: string[];
}

/** After a failed reload, the stale definitions are served this long before the next try. */
const RETRY_AFTER_FAILURE_MS = 5000;

let snapshot: Snapshot | null = null;

/**
 * Every experiment definition, held in this isolate's memory for EXPERIMENT_CACHE_SECONDS: an
 * assignment needs no storage on the hot path. While Postgres is down, the last definitions keep
 * being served. (No single-flight: a promise shared across requests is not allowed in Workers.)
 */
export async function experimentDefinitions(config: Config, now = Date.now()): Promise<Snapshot> {
  if (snapshot && now - snapshot.loadedAt < config.EXPERIMENT_CACHE_SECONDS * 1000) return snapshot;
  try {
    const rows = await withDatabase(config, loadExperiments);
    snapshot = {
      loadedAt: now,
      byId: new Map(rows.map((row) => [row.id, { ...row, compiled: compileAllocation(row.allocation) }])),
      ids: rows.map((row) => row.id),
    };
  } catch (error) {
    if (!snapshot) throw error;
    console.error("experiments: reload failed, serving the cached definitions", String(error));
    snapshot = { ...snapshot, loadedAt: now - config.EXPERIMENT_CACHE_SECONDS * 1000 + RETRY_AFTER_FAILURE_MS };
  }
  return snapshot;
}

/** After a create or an update in this isolate: the next read reloads. Other isolates follow within the TTL. */
export function forgetExperimentDefinitions(): void {
  snapshot = null;
}

// ---- exposures this isolate already reported ----

const MAX_REMEMBERED = 50_000;
const reported = new Map<string, string>();

/** True when this isolate already had the user's DO record this exposure: skip the call. */
export function exposureReported(userId: string, experimentId: string, variant: string): boolean {
  return reported.get(`${experimentId}\u0000${userId}`) === variant;
}

export function rememberExposure(userId: string, experimentId: string, variant: string): void {
  const key = `${experimentId}\u0000${userId}`;
  reported.delete(key);
  reported.set(key, variant);
  if (reported.size > MAX_REMEMBERED) reported.delete(reported.keys().next().value as string);
}

/** Experiments in Postgres: the definitions and who was assigned which variant. */
import { asc, eq, sql } from "drizzle-orm";
import type { Allocation, VariantWeight } from "../domain/experiments";
import type { Queryable } from "./client";
import { experiments } from "./schema";

export type ExperimentRow = typeof experiments.$inferSelect;

export interface ExperimentDefinition {
  name: string;
  variants: VariantWeight[];
  allocation: Allocation;
  active: boolean;
}

/** One exposure per (experiment, user): the latest by HLC. */
export interface AssignmentRecord {
  experimentId: string;
  userId: string;
  variant: string;
  bucket: number;
  firstExposedAt: string;
  exposedAt: string;
  hlc: string;
}

export function loadExperiments(db: Queryable): Promise<ExperimentRow[]> {
  return db.select().from(experiments).orderBy(asc(experiments.id));
}

/** Null when the id exists already. */
export async function insertExperiment(
  db: Queryable,
  experiment: ExperimentDefinition & { id: string },
): Promise<ExperimentRow | null> {
  const [row] = await db
    .insert(experiments)
    .values(experiment)
    .onConflictDoNothing({ target: experiments.id })
    .returning();
  return row ?? null;
}

/**
 * Replaces a definition in one transaction with the row locked, so that the new allocation is
 * computed from the current one (`change`). Null for an unknown id.
 */
export function updateExperiment(
  db: Queryable,
  id: string,
  change: (current: Allocation) => ExperimentDefinition,
): Promise<ExperimentRow | null> {
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select({ allocation: experiments.allocation })
      .from(experiments)
      .where(eq(experiments.id, id))
      .for("update");
    if (!current) return null;
    const [row] = await tx
      .update(experiments)
      .set({ ...change(current.allocation), updatedAt: sql`now()` })
      .where(eq(experiments.id, id))
      .returning();
    return row ?? null;
  });
}

/** Experiment assignments, one row per (experiment, user); a replay changes nothing. */
export async function upsertAssignments(db: Queryable, records: readonly AssignmentRecord[]): Promise<void> {
  const col = <T>(pick: (r: AssignmentRecord) => T) => sql.param(records.map(pick));
  await db.execute(sql`
    INSERT INTO experiment_assignments AS a (experiment_id, user_id, variant, bucket, first_exposed_at, exposed_at, hlc)
    SELECT * FROM unnest(
      ${col((r) => r.experimentId)}::text[], ${col((r) => r.userId)}::text[], ${col((r) => r.variant)}::text[],
      ${col((r) => r.bucket)}::int[], ${col((r) => r.firstExposedAt)}::timestamptz[],
      ${col((r) => r.exposedAt)}::timestamptz[], ${col((r) => r.hlc)}::text[]
    )
    ON CONFLICT (experiment_id, user_id) DO UPDATE SET
      variant = excluded.variant, bucket = excluded.bucket, exposed_at = excluded.exposed_at, hlc = excluded.hlc,
      first_exposed_at = least(a.first_exposed_at, excluded.first_exposed_at)
    WHERE a.hlc COLLATE "C" < excluded.hlc COLLATE "C"
  `);
}

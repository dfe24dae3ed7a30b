import { HttpProblem, type Problem } from "./problems";

/**
 * What a Durable Object returns instead of throwing: error classes do not survive RPC, so a
 * refusal travels as a plain value and the route turns it into problem+json with `unwrap`.
 */
export interface Refusal {
  refused: true;
  status: 400 | 404 | 409 | 422 | 429;
  slug: string;
  detail: string;
  errors?: Problem["errors"];
  retry_after_seconds?: number;
}

export type Outcome<T> = { refused: false; value: T } | Refusal;

export const refusal = (
  status: Refusal["status"],
  slug: string,
  detail: string,
  extra: Pick<Refusal, "errors" | "retry_after_seconds"> = {},
): Refusal => ({ refused: true, status, slug, detail, ...extra });

/** Thrown inside a Durable Object write to roll the transaction back; `write` returns its refusal. */
export class RefusedError extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.detail);
  }
}

/** The value of an outcome, or the matching HttpProblem (429s carry Retry-After). */
export function unwrap<T>(outcome: { refused: false; value: T } | Refusal): T {
  if (!outcome.refused) return outcome.value;
  throw toProblem(outcome);
}

export function toProblem(r: Refusal): HttpProblem {
  return new HttpProblem(r.status, r.slug, r.detail, {
    ...(r.errors ? { errors: r.errors } : {}),
    ...(r.retry_after_seconds !== undefined
      ? { retry_after_seconds: r.retry_after_seconds, headers: { "retry-after": String(r.retry_after_seconds) } }
      : {}),
  });
}

/**
 * Marks the error a Durable Object throws when its storage cannot be used (a migration failed).
 * Only an error's message survives RPC, so the mark travels in the message.
 */
const STORAGE_UNAVAILABLE = "[storage-unavailable]";

export const storageUnavailable = (detail: string) => new Error(`${STORAGE_UNAVAILABLE} ${detail}`);

export const isStorageUnavailable = (error: unknown): boolean =>
  error instanceof Error && error.message.includes(STORAGE_UNAVAILABLE);

/** The 503 a storage-unavailable error becomes at the Worker. */
export const storageUnavailableProblem = () =>
  new HttpProblem(503, "storage-unavailable", "this user's state cannot be opened right now; retry later", {
    headers: { "retry-after": "30" },
  });

/** Marks the error of an object whose profile was deleted (travels in the message, like the above). */
const PROFILE_DELETED = "[profile-deleted]";

export const profileDeleted = () => new Error(`${PROFILE_DELETED} this profile was deleted`);

export const isProfileDeleted = (error: unknown): boolean =>
  error instanceof Error && error.message.includes(PROFILE_DELETED);

/** The 401 a deleted profile's token meets: nothing of it can be read or written again. */
export const profileDeletedProblem = () =>
  new HttpProblem(401, "profile-deleted", "this profile was deleted; choose another profile");

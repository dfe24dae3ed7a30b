/**
 * The user's revoked token families, in the Durable Object's SQLite and mirrored in memory:
 * checking a family costs a Set lookup, and the list survives restarts because SQLite does.
 */

/** An access token lives at most a day (ACCESS_TOKEN_TTL_SECONDS ≤ 86,400); an hour more for clock skew. */
export const REVOCATION_MEMORY_MS = 25 * 3600 * 1000;

export class RevokedFamilies {
  private readonly revoked = new Set<string>();

  constructor(private readonly sql: SqlStorage) {
    for (const row of sql.exec<{ family_id: string }>("SELECT family_id FROM revoked_families")) {
      this.revoked.add(row.family_id);
    }
  }

  has(familyId: string): boolean {
    return this.revoked.has(familyId);
  }

  get size(): number {
    return this.revoked.size;
  }

  /** Returns false when the family was already revoked. Call inside a storage transaction. */
  revoke(familyId: string, reason: string, now: number): boolean {
    this.prune(now);
    if (this.revoked.has(familyId)) return false;
    this.sql.exec(
      "INSERT INTO revoked_families (family_id, reason, revoked_at) VALUES (?, ?, ?)",
      familyId,
      reason,
      now,
    );
    this.revoked.add(familyId);
    return true;
  }

  /** Forgets families whose every access token has expired: no token can present them any more. */
  prune(now: number): void {
    const forgotten = this.sql
      .exec<{ family_id: string }>(
        "DELETE FROM revoked_families WHERE revoked_at < ? RETURNING family_id",
        now - REVOCATION_MEMORY_MS,
      )
      .toArray();
    for (const row of forgotten) this.revoked.delete(row.family_id);
  }
}

import { DurableObject } from "cloudflare:workers";
import { type DeviceGrant, type DeviceGrantStatus, type PollAnswer, poll } from "../domain/device-codes";
import { constantTimeEqual } from "../domain/passwords";
import type { Env } from "../env";
import { MigratedStorage, migrate } from "./migrate";
import { deviceAuthorizationMigrations } from "./migrations/device-authorization";

/** An expired code is still answered `expired_token` this long, then forgotten (and its user code free again). */
export const EXPIRED_GRANT_KEPT_MS = 3600_000;

interface GrantRow extends Record<string, SqlStorageValue> {
  secret_hash: string;
  status: DeviceGrantStatus;
  expires_at: number;
  interval: number;
  last_poll_at: number | null;
  account_id: string | null;
  profile_id: string | null;
}

export type Decision = "approved" | "denied" | "not-found" | "already-decided";

const hexBytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));

/**
 * One TV sign-in (RFC 8628), named by its user code (`idFromName(user_code)`): the device polls
 * it, a signed-in person approves or denies it. One object per code serializes every poll and
 * decision, so a code is used once even when polls race; polls never touch Postgres. The alarm
 * forgets the code an hour after it expires.
 */
export class DeviceAuthorization extends DurableObject<Env> {
  private readonly storage: MigratedStorage;
  /** False after the alarm deleted everything: the next write migrates the empty storage again. */
  private schemaReady = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.storage = new MigratedStorage(ctx, deviceAuthorizationMigrations, "DeviceAuthorization", () => {
      this.schemaReady = true;
    });
  }

  /** Opens the grant; false when this user code is taken (live, or expired but still remembered). */
  async start(grant: { secretHash: string; expiresAt: number; interval: number }): Promise<boolean> {
    this.ready();
    if (this.row()) return false;
    this.ctx.storage.sql.exec(
      "INSERT INTO device_grant (id, secret_hash, status, created_at, expires_at, interval) VALUES (1, ?, 'pending', ?, ?, ?)",
      grant.secretHash,
      Date.now(),
      grant.expiresAt,
      grant.interval,
    );
    await this.ctx.storage.setAlarm(grant.expiresAt + EXPIRED_GRANT_KEPT_MS);
    return true;
  }

  /** One poll of the device: the RFC 8628 §3.5 answer; "invalid" for a device code this object did not issue. */
  async poll(secretHash: string): Promise<PollAnswer | { kind: "invalid" }> {
    const row = this.row();
    if (!row) return this.forget({ kind: "invalid" });
    if (!constantTimeEqual(hexBytes(row.secret_hash), hexBytes(secretHash))) return { kind: "invalid" };
    const { answer, grant } = poll(toGrant(row), Date.now());
    this.ctx.storage.sql.exec(
      "UPDATE device_grant SET status = ?, interval = ?, last_poll_at = ?",
      grant.status,
      grant.interval,
      grant.lastPollAt,
    );
    return answer;
  }

  /** Tokens could not be issued after all (Postgres down): the approval stands for the next poll. */
  async restore(): Promise<void> {
    if (this.row()) this.ctx.storage.sql.exec("UPDATE device_grant SET status = 'approved' WHERE status = 'used'");
  }

  /** The person's answer: once, while the code is live. */
  async decide(decision: { approve: boolean; accountId: string; profileId: string }): Promise<Decision> {
    const row = this.row();
    if (!row) return this.forget("not-found");
    if (Date.now() >= row.expires_at) return "not-found";
    if (row.status !== "pending") return "already-decided";
    this.ctx.storage.sql.exec(
      "UPDATE device_grant SET status = ?, account_id = ?, profile_id = ?",
      decision.approve ? "approved" : "denied",
      decision.accountId,
      decision.profileId,
    );
    return decision.approve ? "approved" : "denied";
  }

  /** The code is forgotten: its storage goes, so idle codes cost nothing. */
  override async alarm(): Promise<void> {
    this.schemaReady = false;
    await this.ctx.storage.deleteAll();
  }

  /** A code nobody issued (a guess): the object keeps nothing of the visit, not even its schema. */
  private async forget<T>(answer: T): Promise<T> {
    this.schemaReady = false;
    await this.ctx.storage.deleteAll();
    return answer;
  }

  private ready(): void {
    this.storage.check();
    if (!this.schemaReady) {
      migrate(this.ctx.storage, deviceAuthorizationMigrations);
      this.schemaReady = true;
    }
  }

  private row(): GrantRow | null {
    this.storage.check();
    if (!this.schemaReady) return null;
    return this.ctx.storage.sql.exec<GrantRow>("SELECT * FROM device_grant").toArray()[0] ?? null;
  }
}

function toGrant(row: GrantRow): DeviceGrant {
  return {
    status: row.status,
    expiresAt: row.expires_at,
    interval: row.interval,
    lastPollAt: row.last_poll_at,
    accountId: row.account_id,
    profileId: row.profile_id,
  };
}

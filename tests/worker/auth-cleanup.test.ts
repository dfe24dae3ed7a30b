import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { cleanupTokens } from "../../src/accounts/cleanup";
import { refreshTokens, tokenFamilies } from "../../src/db/schema";
import worker from "../../src/index";
import { newAccount, refresh } from "./accounts";
import { db, testConfig } from "./helpers";

const DAY = 86_400_000;
const familiesOf = (ids: string[]) => db((d) => d.select().from(tokenFamilies).where(inArray(tokenFamilies.id, ids)));

describe("token cleanup", () => {
  it("deletes expired refresh tokens and families past retention; keeps everything still usable", async () => {
    const live = await newAccount();
    const expired = await newAccount();
    const longRevoked = await newAccount();
    const recentlyRevoked = await newAccount();
    const rotated = await refresh(live.refreshToken); // a spent, unexpired token: kept for replay detection
    expect(rotated.status).toBe(200);

    await db(async (d) => {
      await d
        .update(refreshTokens)
        .set({ expiresAt: new Date(Date.now() - 40 * DAY) })
        .where(eq(refreshTokens.familyId, expired.familyId));
      await d
        .update(tokenFamilies)
        .set({ expiresAt: new Date(Date.now() - 40 * DAY) })
        .where(eq(tokenFamilies.id, expired.familyId));
      await d
        .update(tokenFamilies)
        .set({ revokedAt: new Date(Date.now() - 31 * DAY), revokedReason: "logout" })
        .where(eq(tokenFamilies.id, longRevoked.familyId));
      await d
        .update(tokenFamilies)
        .set({ revokedAt: new Date(Date.now() - 2 * DAY), revokedReason: "logout" })
        .where(eq(tokenFamilies.id, recentlyRevoked.familyId));
    });

    const removed = await cleanupTokens(testConfig());
    expect(removed.refreshTokens).toBeGreaterThanOrEqual(1);
    expect(removed.tokenFamilies).toBeGreaterThanOrEqual(2);

    const left = await familiesOf([live.familyId, expired.familyId, longRevoked.familyId, recentlyRevoked.familyId]);
    expect(left.map((f) => f.id).sort()).toEqual([live.familyId, recentlyRevoked.familyId].sort());
    const liveTokens = await db((d) => d.select().from(refreshTokens).where(eq(refreshTokens.familyId, live.familyId)));
    expect(liveTokens).toHaveLength(2);
    expect((await refresh(rotated.json.refresh_token)).status).toBe(200);
  });

  it("runs from the Worker's scheduled() handler", async () => {
    const account = await newAccount();
    await db((d) =>
      d
        .update(tokenFamilies)
        .set({ expiresAt: new Date(Date.now() - 40 * DAY) })
        .where(eq(tokenFamilies.id, account.familyId)),
    );
    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env);
    expect(await familiesOf([account.familyId])).toHaveLength(0);
  });
});

import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { refreshTokens, tokenFamilies } from "../../src/db/schema";
import { login, newAccount, refresh } from "./accounts";
import { client, db } from "./helpers";

const familyRow = (id: string) =>
  db((d) => d.select().from(tokenFamilies).where(eq(tokenFamilies.id, id))).then((rows) => rows[0]);

describe("refresh-token rotation", () => {
  it("refresh works once: a new pair in the same family, and the old refresh token is spent", async () => {
    const account = await newAccount();
    const rotated = await refresh(account.refreshToken);
    expect(rotated.status).toBe(200);
    expect(rotated.json.family_id).toBe(account.familyId);
    expect(rotated.json.refresh_token).not.toBe(account.refreshToken);
    expect(rotated.json.access_token).not.toBe(account.accessToken);
    expect((await client(rotated.json.access_token).get("/api/v1/me")).status).toBe(200);

    const rows = await db((d) => d.select().from(refreshTokens).where(eq(refreshTokens.familyId, account.familyId)));
    expect(rows).toHaveLength(2);
    expect(rows.filter((r) => r.spentAt !== null)).toHaveLength(1);

    // The chain goes on: the new refresh token rotates in turn.
    const again = await refresh(rotated.json.refresh_token);
    expect(again.status).toBe(200);
    expect(again.json.family_id).toBe(account.familyId);
  });

  it("replaying a spent refresh token revokes the family: the newest access token is then refused", async () => {
    const account = await newAccount();
    const rotated = await refresh(account.refreshToken);
    expect(rotated.status).toBe(200);
    const newest = client(rotated.json.access_token);
    expect((await newest.get("/api/v1/resume/film-the-matrix-1999")).status).toBe(200);

    const replay = await refresh(account.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.json.detail).toMatch(/already used/);

    // The newest access token of the family: refused on a user-state endpoint and elsewhere.
    const resume = await newest.get("/api/v1/resume/film-the-matrix-1999");
    expect(resume.status).toBe(401);
    expect(resume.headers.get("content-type")).toBe("application/problem+json");
    expect(resume.json.type).toContain("token-revoked");
    expect((await newest.get("/api/v1/me")).status).toBe(401);
    expect((await client(account.accessToken).get("/api/v1/me")).status).toBe(401);
    // And the newest refresh token is dead too.
    expect((await refresh(rotated.json.refresh_token)).status).toBe(401);

    const family = await familyRow(account.familyId);
    expect(family?.revokedAt).toBeInstanceOf(Date);
    expect(family?.revokedReason).toBe("refresh-token-reuse");
  });

  it("of two concurrent presentations of one refresh token, at most one succeeds and the family is revoked", async () => {
    const account = await newAccount();
    const [a, b] = await Promise.all([refresh(account.refreshToken), refresh(account.refreshToken)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses[1]).toBe(401);
    const winner = a.status === 200 ? a : b.status === 200 ? b : null;
    if (winner) expect((await client(winner.json.access_token).get("/api/v1/me")).status).toBe(401);
    expect((await familyRow(account.familyId))?.revokedReason).toBe("refresh-token-reuse");
  });

  it("a revoked family's refresh token cannot be used, and another sign-in of the user is untouched", async () => {
    const account = await newAccount();
    const other = await login(account.email, account.password);
    expect(other.status).toBe(200);
    await refresh(account.refreshToken);
    await refresh(account.refreshToken); // replay: revokes the first family only
    expect((await client(other.json.access_token).get("/api/v1/me")).status).toBe(200);
    expect((await refresh(other.json.refresh_token)).status).toBe(200);
  });
});

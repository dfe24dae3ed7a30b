import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { client, tokenFor } from "./helpers";

const probe = (token: string | null, header?: string) =>
  client(token).get("/api/v1/history", header ? { authorization: header } : undefined);

describe("access tokens", () => {
  it("accepts a valid HS256 token", async () => {
    expect((await probe(await tokenFor("someone"))).status).toBe(200);
  });

  it.each([
    ["missing", async () => probe(null)],
    ["malformed header", async () => probe(null, "Token abc")],
    ["not a JWT", async () => probe("not.a.jwt")],
    ["expired", async () => probe(await tokenFor("u", { expiresIn: "-1m" }))],
    [
      "wrongly signed",
      async () =>
        probe(await tokenFor("u", { key: new TextEncoder().encode("another-secret-of-at-least-32-chars!!") })),
    ],
    ["alg none", async () => probe(new UnsecuredJWT({ sub: "u" }).setExpirationTime("1h").encode())],
    [
      "without a subject",
      async () =>
        probe(
          await new SignJWT({})
            .setProtectedHeader({ alg: "HS256" })
            .setExpirationTime("1h")
            .sign(new TextEncoder().encode("local-development-secret-not-for-production-use")),
        ),
    ],
  ])("refuses a %s token with 401 problem+json", async (_name, call) => {
    const res = await call();
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect(res.json).toMatchObject({ status: 401, title: "Unauthorized" });
    expect(res.json.detail).toBeTypeOf("string");
  });
});

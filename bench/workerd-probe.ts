/**
 * A tiny Worker for bench/auth.ts: runs one operation `n` times inside workerd, so that the cost
 * of the operation is measured in the runtime that runs it in production (V8 + BoringSSL).
 */
import { jwtVerify, SignJWT } from "jose";
import { allocate, assignVariant, compileAllocation } from "../src/domain/experiments";
import { PBKDF2_ITERATIONS } from "../src/domain/passwords";

const secret = new TextEncoder().encode("bench-secret-bench-secret-bench-secret!");
const compiled = compileAllocation(
  allocate([
    { name: "control", weight: 50 },
    { name: "treatment", weight: 50 },
  ]),
);
let key: CryptoKey | null = null;
let token: string | null = null;

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const n = Math.max(1, Math.min(1_000_000, Number(url.searchParams.get("n") ?? 1)));
    let sink = 0;
    switch (url.pathname) {
      case "/bare":
        break;
      case "/assign":
        for (let i = 0; i < n; i++) sink += assignVariant(compiled, "home-row", `user-${i}`).bucket;
        break;
      case "/verify": {
        key ??= await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
          "sign",
          "verify",
        ]);
        token ??= await new SignJWT({ fid: crypto.randomUUID(), role: "user" })
          .setProtectedHeader({ alg: "HS256" })
          .setSubject("user-1")
          .setIssuedAt()
          .setExpirationTime("1h")
          .sign(key);
        for (let i = 0; i < n; i++) sink += (await jwtVerify(token, key, { algorithms: ["HS256"] })).payload.exp ?? 0;
        break;
      }
      case "/pbkdf2": {
        const material = await crypto.subtle.importKey("raw", new TextEncoder().encode("password"), "PBKDF2", false, [
          "deriveBits",
        ]);
        const iterations = Number(url.searchParams.get("iterations") ?? PBKDF2_ITERATIONS);
        for (let i = 0; i < n; i++) {
          const salt = crypto.getRandomValues(new Uint8Array(16));
          const bits = await crypto.subtle.deriveBits(
            { name: "PBKDF2", hash: "SHA-256", salt, iterations },
            material,
            256,
          );
          sink += new Uint8Array(bits)[0] as number;
        }
        break;
      }
      default:
        return new Response("unknown probe", { status: 404 });
    }
    return new Response(String(sink));
  },
};

/**
 * `npm run --silent token -- <user_id> [--admin] [--ttl <seconds>] [--maturity <label>]`: an access
 * token for the local stack; `--maturity PG` makes it a profile limited to PG.
 */
import { SignJWT } from "jose";
import { LOCAL_DEV_JWT_SECRET, parseConfig } from "../src/config";
import { MATURITY_LABELS } from "../src/domain/maturity";

const args = process.argv.slice(2);
const valued = ["--ttl", "--maturity"];
const userId = args.find((a, i) => !a.startsWith("--") && !valued.includes(args[i - 1] ?? ""));
const maturityIndex = args.indexOf("--maturity");
const maturity = maturityIndex >= 0 ? args[maturityIndex + 1] : undefined;
if (!userId || (maturity !== undefined && !(MATURITY_LABELS as string[]).includes(maturity))) {
  console.error(
    `usage: npm run --silent token -- <user_id> [--admin] [--ttl <seconds>] [--maturity ${MATURITY_LABELS.join("|")}]`,
  );
  process.exit(2);
}
const ttlIndex = args.indexOf("--ttl");
const config = parseConfig({ ...process.env, JWT_SECRET: process.env.JWT_SECRET ?? LOCAL_DEV_JWT_SECRET });
const ttl = ttlIndex >= 0 ? Number(args[ttlIndex + 1]) : 24 * 3600;
let jwt = new SignJWT({ role: args.includes("--admin") ? "admin" : "user", ...(maturity ? { mat: maturity } : {}) })
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(userId)
  .setIssuedAt()
  .setJti(crypto.randomUUID())
  .setExpirationTime(Math.floor(Date.now() / 1000) + ttl);
if (config.JWT_ISSUER) jwt = jwt.setIssuer(config.JWT_ISSUER);
if (config.JWT_AUDIENCE) jwt = jwt.setAudience(config.JWT_AUDIENCE);
console.log(await jwt.sign(new TextEncoder().encode(config.JWT_SECRET)));

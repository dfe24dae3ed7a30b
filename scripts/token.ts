/** `npm run --silent token -- <user_id> [--admin] [--ttl <seconds>]`: an access token for the local stack. */
import { SignJWT } from "jose";
import { LOCAL_DEV_JWT_SECRET, parseConfig } from "../src/config";

const args = process.argv.slice(2);
const userId = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--ttl");
if (!userId) {
  console.error("usage: npm run --silent token -- <user_id> [--admin] [--ttl <seconds>]");
  process.exit(2);
}
const ttlIndex = args.indexOf("--ttl");
const config = parseConfig({ ...process.env, JWT_SECRET: process.env.JWT_SECRET ?? LOCAL_DEV_JWT_SECRET });
const ttl = ttlIndex >= 0 ? Number(args[ttlIndex + 1]) : 24 * 3600;
let jwt = new SignJWT({ role: args.includes("--admin") ? "admin" : "user" })
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(userId)
  .setIssuedAt()
  .setJti(crypto.randomUUID())
  .setExpirationTime(Math.floor(Date.now() / 1000) + ttl);
if (config.JWT_ISSUER) jwt = jwt.setIssuer(config.JWT_ISSUER);
if (config.JWT_AUDIENCE) jwt = jwt.setAudience(config.JWT_AUDIENCE);
console.log(await jwt.sign(new TextEncoder().encode(config.JWT_SECRET)));

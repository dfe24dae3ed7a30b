import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config";

const secret = "x".repeat(32);

describe("configuration", () => {
  it("fills every default", () => {
    const config = parseConfig({ JWT_SECRET: secret });
    expect(config).toMatchObject({ RESUME_MIN_SECONDS: 30, RESUME_MAX_PERCENT: 95, WATCHED_PERCENT: 90 });
  });
  it("reads numbers from strings", () => {
    expect(parseConfig({ JWT_SECRET: secret, RESUME_MIN_SECONDS: "45" }).RESUME_MIN_SECONDS).toBe(45);
  });
  it("stops with a message naming each bad variable", () => {
    const attempt = () => parseConfig({ JWT_SECRET: "short", RESUME_MAX_PERCENT: "150", DATABASE_URL: "mysql://x" });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/JWT_SECRET[\s\S]*DATABASE_URL[\s\S]*RESUME_MAX_PERCENT|JWT_SECRET/);
    try {
      attempt();
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ["JWT_SECRET", "RESUME_MAX_PERCENT", "DATABASE_URL"]) expect(message).toContain(name);
    }
  });
  it("requires a way to verify tokens", () => {
    expect(() => parseConfig({})).toThrow(/JWT_SECRET/);
    expect(parseConfig({ JWT_JWKS_URL: "https://id.example/.well-known/jwks.json" }).JWT_JWKS_URL).toContain("jwks");
  });
  it("reads the subscriber queues of EVENT_SUBSCRIBERS, and none by default", () => {
    expect(parseConfig({ JWT_SECRET: secret }).EVENT_SUBSCRIBERS).toEqual([]);
    const subscribers = [
      { binding: "EVENTS_ANALYTICS", types: ["*"] },
      { binding: "EVENTS_SCROBBLER", types: ["progress-changed", "watchlist-changed"] },
    ];
    expect(
      parseConfig({ JWT_SECRET: secret, EVENT_SUBSCRIBERS: JSON.stringify(subscribers) }).EVENT_SUBSCRIBERS,
    ).toEqual(subscribers);
    expect(parseConfig({ JWT_SECRET: secret }).EVENT_LOG_RETENTION_DAYS).toBe(7);
  });
  it("refuses a subscriber list that would lose or misroute events", () => {
    for (const bad of [
      "not json",
      JSON.stringify({ binding: "EVENTS_X", types: ["*"] }),
      JSON.stringify([{ binding: "EVENTS", types: ["*"] }]),
      JSON.stringify([{ binding: "events-x", types: ["*"] }]),
      JSON.stringify([{ binding: "EVENTS_X", types: ["progress-changd"] }]),
      JSON.stringify([{ binding: "EVENTS_X", types: [] }]),
      JSON.stringify([
        { binding: "EVENTS_X", types: ["*"] },
        { binding: "EVENTS_X", types: ["rating-changed"] },
      ]),
    ]) {
      expect(() => parseConfig({ JWT_SECRET: secret, EVENT_SUBSCRIBERS: bad }), bad).toThrow(/EVENT_SUBSCRIBERS/);
    }
    expect(() => parseConfig({ JWT_SECRET: secret, EVENT_LOG_RETENTION_DAYS: "0" })).toThrow(
      /EVENT_LOG_RETENTION_DAYS/,
    );
  });
  it("refuses a watched threshold above the resume ceiling", () => {
    expect(() => parseConfig({ JWT_SECRET: secret, WATCHED_PERCENT: "97" })).toThrow(/WATCHED_PERCENT/);
  });
});

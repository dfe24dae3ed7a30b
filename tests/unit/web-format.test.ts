import { describe, expect, it } from "vitest";
import {
  episodeCode,
  formatClock,
  initials,
  nextUpReasonText,
  relativeTime,
  resumeLabel,
  spokenDuration,
  titleFromId,
  tokenSubject,
} from "../../public/app/format.js";

describe("the web client's formatting", () => {
  it("offers to resume at the clock time of the position", () => {
    expect(resumeLabel(1800)).toBe("Resume from 30:00");
    expect(resumeLabel(4080)).toBe("Resume from 1:08:00");
    expect(resumeLabel(59.9)).toBe("Resume from 0:59");
    expect(resumeLabel(0)).toBe("Resume from 0:00");
  });

  it("offers no resume when the service says to start over", () => {
    expect(resumeLabel(null)).toBeNull();
    expect(resumeLabel(undefined)).toBeNull();
  });

  it("reads durations out in words for screen readers", () => {
    expect(spokenDuration(4080)).toBe("1 hour 8 minutes");
    expect(spokenDuration(61)).toBe("1 minute 1 second");
    expect(spokenDuration(0)).toBe("0 seconds");
  });

  it("never shows a negative or broken clock", () => {
    expect(formatClock(-5)).toBe("0:00");
    expect(formatClock(Number.NaN)).toBe("0:00");
    expect(formatClock(36_000)).toBe("10:00:00");
  });

  it("names a title from its catalog id when the catalog cannot be asked", () => {
    expect(titleFromId("film-the-matrix-1999")).toBe("The Matrix (1999)");
    expect(titleFromId("film-heat-1995-2")).toBe("Heat (1995)");
    expect(titleFromId("something-else")).toBe("something-else");
  });

  it("makes poster initials from the first two words", () => {
    expect(initials("The Matrix")).toBe("TM");
    expect(initials("Amélie")).toBe("A");
    expect(initials("")).toBe("?");
  });

  it("says how long ago a device was seen", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(relativeTime("2026-01-01T11:59:50Z", now)).toBe("just now");
    expect(relativeTime("2026-01-01T11:55:00Z", now)).toBe("5 min ago");
    expect(relativeTime("2026-01-01T09:00:00Z", now)).toBe("3 h ago");
    expect(relativeTime("not a date", now)).toBe("");
  });

  it("reads the user of a pasted token without trusting it, and rejects what is not a JWT", () => {
    const payload = Buffer.from(JSON.stringify({ sub: "alice", exp: 1 })).toString("base64url");
    expect(tokenSubject(`eyJhbGciOiJIUzI1NiJ9.${payload}.signature`)).toBe("alice");
    expect(tokenSubject("not a token")).toBeNull();
    expect(tokenSubject(null)).toBeNull();
  });
});

describe("episode buttons", () => {
  it("names an episode by season and number, a special as such, and says why it is next", () => {
    expect(episodeCode(1, 4)).toBe("S1E4");
    expect(episodeCode(12, 10)).toBe("S12E10");
    expect(episodeCode(0, 2)).toBe("Special 2");
    expect(nextUpReasonText("new_season")).toBe("New season");
    expect(nextUpReasonText("in_progress")).toBe("Continue where you stopped");
    expect(nextUpReasonText("something else")).toBe("");
  });
});

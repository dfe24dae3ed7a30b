import { describe, expect, it } from "vitest";
import {
  completionPercentage,
  completionRate,
  isWatched,
  resumePosition,
  DEFAULT_RESUME_RULES as rules,
} from "../../src/domain/resume";

describe("resume rules (30 s floor, 95 % ceiling, watched at 90 %)", () => {
  it("resumes from 1800 s after a session at 50 % of 3600 s", () => {
    expect(resumePosition(1800, 3600, rules)).toBe(1800);
  });
  it("does not resume at 96 %", () => {
    expect(resumePosition(3456, 3600, rules)).toBeNull();
  });
  it("does not resume at 20 s", () => {
    expect(resumePosition(20, 3600, rules)).toBeNull();
  });
  it("does not resume at 29 s but does at 30 s", () => {
    expect(resumePosition(29, 3600, rules)).toBeNull();
    expect(resumePosition(29.999, 3600, rules)).toBeNull();
    expect(resumePosition(30, 3600, rules)).toBe(30);
  });
  it("resumes at exactly 95 % and not just above it", () => {
    expect(resumePosition(3420, 3600, rules)).toBe(3420);
    expect(resumePosition(3420.5, 3600, rules)).toBeNull();
  });
  it("does not resume at or past the end", () => {
    expect(resumePosition(3600, 3600, rules)).toBeNull();
    expect(resumePosition(5000, 3600, rules)).toBeNull();
  });
  it("with an unknown duration (0) only the floor applies", () => {
    expect(resumePosition(600, 0, rules)).toBe(600);
    expect(resumePosition(10, 0, rules)).toBeNull();
    expect(completionPercentage(600, 0)).toBe(0);
    expect(isWatched(600, 0, rules)).toBe(false);
  });
  it("counts as watched from 90 %", () => {
    expect(isWatched(3239, 3600, rules)).toBe(false);
    expect(isWatched(3240, 3600, rules)).toBe(true);
    expect(isWatched(5000, 3600, rules)).toBe(true);
  });
  it("clamps completion to [0, 100] and the rate to [0, 1]", () => {
    expect(completionPercentage(5000, 3600)).toBe(100);
    expect(completionPercentage(-5, 3600)).toBe(0);
    expect(completionPercentage(900, 3600)).toBe(25);
    expect(completionRate(5000, 3600)).toBe(1);
    expect(completionRate(0, 0)).toBe(0);
    expect(completionRate(1800, 3600)).toBe(0.5);
  });
  it("follows configured rules", () => {
    const custom = { minSeconds: 60, maxPercent: 80, watchedPercent: 75 };
    expect(resumePosition(59, 3600, custom)).toBeNull();
    expect(resumePosition(2880, 3600, custom)).toBe(2880);
    expect(resumePosition(2881, 3600, custom)).toBeNull();
    expect(isWatched(2700, 3600, custom)).toBe(true);
  });
});

/** Resume and completion rules for one piece of content (a movie or an episode). */
export interface ResumeRules {
  /** No resume before this many seconds. */
  minSeconds: number;
  /** No resume above this completion percentage. */
  maxPercent: number;
  /** At or above this completion percentage the content counts as watched. */
  watchedPercent: number;
}

export const DEFAULT_RESUME_RULES: ResumeRules = { minSeconds: 30, maxPercent: 95, watchedPercent: 90 };

/** position / duration × 100, clamped to [0, 100]; 0 when the duration is unknown (0). */
export function completionPercentage(positionSeconds: number, durationSeconds: number): number {
  if (!(durationSeconds > 0) || !(positionSeconds > 0)) return 0;
  return Math.min(100, (positionSeconds / durationSeconds) * 100);
}

/** The same ratio in [0, 1], as `session-ended` events carry it. */
export function completionRate(positionSeconds: number, durationSeconds: number): number {
  return completionPercentage(positionSeconds, durationSeconds) / 100;
}

/**
 * Finished: at or above `watchedPercent`, or past the point where the catalog says the credits
 * start (`creditsStartSeconds`, null when it does not know).
 */
export function isWatched(
  positionSeconds: number,
  durationSeconds: number,
  rules: ResumeRules,
  creditsStartSeconds: number | null = null,
): boolean {
  if (creditsStartSeconds !== null && creditsStartSeconds > 0 && positionSeconds >= creditsStartSeconds) return true;
  return durationSeconds > 0 && completionPercentage(positionSeconds, durationSeconds) >= rules.watchedPercent;
}

/**
 * Where a player should start: the saved position, or null to start over — before
 * `minSeconds` there is nothing worth resuming, above `maxPercent` only credits remain.
 * A duration of 0 means "unknown" (live, or not reported yet): only the floor applies.
 */
export function resumePosition(positionSeconds: number, durationSeconds: number, rules: ResumeRules): number | null {
  if (positionSeconds < rules.minSeconds) return null;
  if (durationSeconds <= 0) return positionSeconds;
  if (positionSeconds >= durationSeconds) return null;
  if (completionPercentage(positionSeconds, durationSeconds) > rules.maxPercent) return null;
  return positionSeconds;
}

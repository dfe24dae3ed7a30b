/** Pure formatting helpers shared by the views (no DOM, no network): unit tested in Node. */

/** 1800 → "30:00", 4080 → "1:08:00", 59.6 → "0:59". */
export function formatClock(totalSeconds) {
  const s = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}:${pad(minutes)}:${pad(seconds)}` : `${minutes}:${pad(seconds)}`;
}

/** Screen readers read "1 hour 8 minutes" better than "1:08:00". */
export function spokenDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  const parts = [];
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (hours) parts.push(`${hours} hour${hours === 1 ? "" : "s"}`);
  if (minutes) parts.push(`${minutes} minute${minutes === 1 ? "" : "s"}`);
  if (seconds || parts.length === 0) parts.push(`${seconds} second${seconds === 1 ? "" : "s"}`);
  return parts.join(" ");
}

/** The label of the resume offer, or null when the service says to start over. */
export function resumeLabel(resumePositionSeconds) {
  return typeof resumePositionSeconds === "number" ? `Resume from ${formatClock(resumePositionSeconds)}` : null;
}

/** "2 min ago", "just now": presence reads better relative. */
export function relativeTime(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return `${days} day${days === 1 ? "" : "s"} ago`;
}

/** A readable title from a catalog id when the catalog cannot be asked: "film-the-matrix-1999" → "The Matrix (1999)". */
export function titleFromId(contentId) {
  const match = /^(?:film|series|episode)-(.+?)(?:-(\d{4}))?(?:-\d+)?$/.exec(String(contentId));
  if (!match) return String(contentId);
  const words = (match[1] ?? "").split("-").filter(Boolean);
  const title = words.map((w) => (w.length > 0 ? w[0].toUpperCase() + w.slice(1) : w)).join(" ");
  return match[2] ? `${title} (${match[2]})` : title;
}

/** A stable hue per title so each poster stand-in keeps its colour everywhere. */
export function posterHue(contentId) {
  let hash = 0;
  for (const ch of String(contentId)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 360;
}

/** Up to two initials for a poster stand-in: "The Matrix" → "TM". */
export function initials(title) {
  const words = String(title)
    .replace(/\(.*?\)/g, "")
    .split(/\s+/)
    .filter((w) => /[\p{L}\p{N}]/u.test(w));
  return (
    words
      .slice(0, 2)
      .map((w) => [...w.replace(/[^\p{L}\p{N}]/gu, "")][0] ?? "")
      .join("")
      .toUpperCase() || "?"
  );
}

/** The subject of a JWT, read without verifying it (display only: the server verifies). */
export function tokenSubject(token) {
  const payload = decodeJwtPayload(token);
  return typeof payload?.sub === "string" ? payload.sub : null;
}

/** Every claim of a JWT, read without verifying it (display only: the server verifies), or null. */
export function tokenClaims(token) {
  return decodeJwtPayload(token);
}

/** Seconds until a JWT expires (negative when expired), or null when it has no `exp`. */
export function tokenSecondsLeft(token, now = Date.now()) {
  const payload = decodeJwtPayload(token);
  return typeof payload?.exp === "number" ? payload.exp - now / 1000 : null;
}

function decodeJwtPayload(token) {
  const part = String(token ?? "").split(".")[1];
  if (!part) return null;
  try {
    const base64 = part
      .replace(/-/g, "+")
      .replace(/_/g, "/")
      .padEnd(Math.ceil(part.length / 4) * 4, "=");
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const payload = JSON.parse(json);
    return payload && typeof payload === "object" ? payload : null;
  } catch {
    return null;
  }
}

/** "S1E4": how a season and an episode are named on a button. */
export function episodeCode(season, episode) {
  return season === 0 ? `Special ${episode}` : `S${season}E${episode}`;
}

/** Why an episode is Next Up, in words. */
export function nextUpReasonText(reason) {
  return (
    {
      in_progress: "Continue where you stopped",
      next_episode: "Next episode",
      new_season: "New season",
      new_episode: "New episode",
    }[reason] ?? ""
  );
}

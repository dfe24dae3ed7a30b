/**
 * Series-aware viewing in the web client: the Next Up row, hiding a card from continue
 * watching, the user's ratings, and the episode to offer once one ends.
 */
import { ApiError, api } from "./api.js";
import { h, toast } from "./dom.js";
import { episodeCode } from "./format.js";
import { changed, rememberTitle, state } from "./state.js";

/** The device header keeps this tab's own socket from being told what it just did. */
const fromThisTab = () => ({ "x-device-id": state.deviceId });

/** Next Up: one episode per series, most recently watched series first. */
export async function loadNextUp() {
  if (!state.features.nextUp) return;
  try {
    const page = await api("GET", "/next-up?limit=12");
    for (const item of page.items) {
      rememberTitle({ id: item.content_id, title: item.title, kind: "episode", series_id: item.series_id });
    }
    state.nextUp = page.items;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    console.warn("GET /next-up:", error);
  }
  changed("next-up");
}

/** The episode to play now in one series, or null. */
export async function nextEpisodeOf(seriesId) {
  if (!state.features.nextUp || !seriesId) return null;
  try {
    const page = await api("GET", `/next-up?series_id=${encodeURIComponent(seriesId)}&limit=1`);
    return page.items[0] ?? null;
  } catch {
    return null;
  }
}

/** "Play S1E4", or "Resume S1E4" for an episode in progress. */
export function episodeButtonLabel(item) {
  const code = episodeCode(item.season_number, item.episode_number);
  return item.reason === "in_progress" && item.resume_position_seconds !== null ? `Resume ${code}` : `Play ${code}`;
}

/** Hides a continue-watching card (a film, or a series for one of its episodes); its progress stays. */
export async function hideCard(contentId, title) {
  try {
    await api("PUT", `/continue-watching/${encodeURIComponent(contentId)}/hidden`, { headers: fromThisTab() });
    toast(`“${title}” is hidden from continue watching until you play it again`);
    return true;
  } catch (error) {
    toast(`Hide: ${error.message}`, "error");
    return false;
  }
}

/** The user's ratings, for the rating control (the first hundred; the socket keeps them current). */
export async function loadRatings() {
  if (!state.features.ratings) return;
  try {
    const page = await api("GET", "/ratings?limit=100");
    state.ratings = new Map(page.items.map((r) => [r.content_id, r.rating]));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
  }
  changed("ratings");
}

/** A select of "No rating" and 1-10 for `contentId`; choosing saves at once. */
export function ratingControl(select, contentId) {
  select.replaceChildren(
    h("option", { value: "" }, "No rating"),
    ...Array.from({ length: 10 }, (_, i) => h("option", { value: String(10 - i) }, `${10 - i} / 10`)),
  );
  select.value = String(state.ratings.get(contentId) ?? "");
  select.onchange = async () => {
    const path = `/ratings/${encodeURIComponent(contentId)}`;
    try {
      if (select.value === "") {
        await api("DELETE", path, { headers: fromThisTab() }).catch((error) => {
          if (!(error instanceof ApiError && error.status === 404)) throw error;
        });
        state.ratings.delete(contentId);
      } else {
        const saved = await api("PUT", path, { body: { rating: Number(select.value) }, headers: fromThisTab() });
        state.ratings.set(contentId, saved.rating);
      }
      changed("ratings");
    } catch (error) {
      toast(`Rating: ${error.message}`, "error");
    }
  };
}

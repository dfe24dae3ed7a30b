/**
 * A player stand-in: no video, but a real playback session. It starts a session on play,
 * reports the position every few seconds and on every seek or pause, ends the session on close,
 * and offers "Resume from …" by the service's resume rules when a title is opened again. A series
 * opens on its Next Up episode; when an episode ends, the next one is offered ("Play S1E4").
 */
import { ApiError, api } from "./api.js";
import { $, h, render, toast } from "./dom.js";
import { formatClock, initials, posterHue, resumeLabel, spokenDuration } from "./format.js";
import { describeTitle, knownTitle, rememberTitle, state, subscribe } from "./state.js";
import { episodeButtonLabel, nextEpisodeOf, ratingControl } from "./viewing.js";

const REPORT_EVERY_MS = 5000;
const TICK_MS = 250;
/** Used when the catalog does not know a runtime: two hours, like most films. */
const FALLBACK_DURATION_SECONDS = 7200;

export function createPlayer({ onSessionEnded, watchlistButton }) {
  const dialog = $("#player");
  const ui = {
    title: $("#player-title"),
    meta: $("#player-meta"),
    poster: $("#player-poster"),
    episodes: $("#player-episodes"),
    episodeSelect: $("#player-episode"),
    offer: $("#player-offer"),
    resume: $("#player-resume"),
    startOver: $("#player-start-over"),
    toggle: $("#player-toggle"),
    back: $("#player-back"),
    forward: $("#player-forward"),
    seek: $("#player-seek"),
    clock: $("#player-clock"),
    speed: $("#player-speed"),
    status: $("#player-status"),
    watchlist: $("#player-watchlist"),
    close: $("#player-close"),
    bar: $("#player-bar"),
    next: $("#player-next"),
    nextText: $("#player-next-text"),
    nextPlay: $("#player-next-play"),
    rating: $("#player-rating"),
    ratingSelect: $("#player-rating-select"),
  };

  let target = null; // { id, title, duration, seriesId }
  let session = null; // the session this tab holds, once playing started
  let position = 0;
  let playing = false;
  let seeking = false;
  let lastTick = 0;
  let lastReport = 0;
  let reports = Promise.resolve();
  let ticker = null;
  let openToken = 0;

  // ---- rendering ----

  function showClock() {
    const duration = target?.duration ?? 0;
    if (!seeking) ui.seek.value = String(Math.round(position));
    ui.seek.max = String(duration);
    ui.seek.setAttribute("aria-valuetext", `${spokenDuration(position)} of ${spokenDuration(duration)}`);
    ui.clock.value = `${formatClock(position)} / ${formatClock(duration)}`;
    ui.bar.style.width = `${duration > 0 ? Math.min(100, (position / duration) * 100) : 0}%`;
    ui.toggle.textContent = playing ? "Pause" : "Play";
    ui.toggle.setAttribute("aria-label", playing ? "Pause" : "Play");
    dialog.classList.toggle("is-playing", playing);
  }

  function offer(resumeSeconds) {
    const label = resumeLabel(resumeSeconds);
    ui.offer.hidden = label === null;
    // While a resume point is offered, the choice is "resume" or "start over", not a bare Play.
    ui.toggle.hidden = label !== null;
    if (label !== null) {
      ui.resume.textContent = label;
      ui.resume.dataset.position = String(resumeSeconds);
    }
  }

  function setStatus(text) {
    ui.status.textContent = text;
  }

  // ---- the session ----

  async function startSession() {
    const created = await api("POST", "/sessions", {
      body: { content_id: target.id, device_id: state.deviceId, duration_seconds: target.duration },
    });
    session = created;
    // A session starts at 0; a resumed or sought start is reported at once.
    if (position > 0) report("playing", { force: true });
  }

  /** Reports the position; reports go out in order, so the session's last word is the latest. */
  function report(playbackState, { force = false } = {}) {
    if (!session) return reports;
    const current = session;
    const body = { position_seconds: Math.round(position * 10) / 10, playback_state: playbackState };
    lastReport = Date.now();
    reports = reports
      .then(() => api("PATCH", `/sessions/${encodeURIComponent(current.id)}/position`, { body }))
      .then(() => setStatus(`Position saved at ${formatClock(body.position_seconds)}`))
      .catch(async (error) => {
        // The service ends idle sessions; a player still open simply starts a new one.
        if (error instanceof ApiError && error.status === 409 && session === current) {
          session = null;
          if (playing || force) await startSession().catch(fail);
          return;
        }
        fail(error);
      });
    return reports;
  }

  function fail(error) {
    const detail = error instanceof ApiError ? error.message : "the service could not be reached";
    setStatus(`Not saved: ${detail}`);
    toast(`Playback: ${detail}`, "error");
  }

  async function play(from = null) {
    if (!target) return;
    if (from !== null) position = from;
    ui.offer.hidden = true;
    ui.toggle.hidden = false;
    if (position >= target.duration) position = 0;
    playing = true;
    lastTick = performance.now();
    showClock();
    if (!session) {
      try {
        await startSession();
      } catch (error) {
        playing = false;
        showClock();
        fail(error);
        return;
      }
    } else {
      report("playing");
    }
  }

  function pause() {
    if (!playing) return;
    playing = false;
    showClock();
    report("paused");
  }

  function tick() {
    const now = performance.now();
    if (playing && target) {
      position += ((now - lastTick) / 1000) * Number(ui.speed.value);
      if (position >= target.duration) {
        finished();
      } else if (Date.now() - lastReport >= REPORT_EVERY_MS) {
        report("playing");
      }
      showClock();
    }
    lastTick = now;
  }

  function seekTo(seconds) {
    if (!target) return;
    position = Math.max(0, Math.min(target.duration, seconds));
    showClock();
    if (position >= target.duration && session) return finished();
    if (session) report(playing ? "playing" : "paused");
  }

  /** The end: saved as stopped; for an episode, the series' Next Up is offered. */
  function finished() {
    position = target.duration;
    playing = false;
    showClock();
    setStatus("Finished");
    const { seriesId } = target;
    const mine = openToken;
    void report("stopped").then(async () => {
      if (mine === openToken) setStatus("Finished");
      const next = await nextEpisodeOf(seriesId);
      if (!next || mine !== openToken || next.content_id === target?.id) return;
      rememberTitle({ id: next.content_id, title: next.title, kind: "episode", series_id: next.series_id });
      ui.nextText.textContent = `Up next: ${next.title}`;
      ui.nextPlay.textContent = episodeButtonLabel(next);
      ui.nextPlay.dataset.contentId = next.content_id;
      ui.next.hidden = false;
      ui.nextPlay.focus();
    });
  }

  // ---- opening and closing ----

  async function open(contentId) {
    if (dialog.open) await close();
    const mine = ++openToken;
    target = null;
    session = null;
    position = 0;
    playing = false;
    setStatus("");
    ui.offer.hidden = true;
    ui.toggle.hidden = false;
    ui.episodes.hidden = true;
    ui.next.hidden = true;
    const known = knownTitle(contentId);
    showHeader(known);
    watchlistButton(ui.watchlist, contentId);
    dialog.showModal();
    ticker = setInterval(tick, TICK_MS);

    const item = await describeTitle(contentId);
    if (mine !== openToken) return;
    showHeader(item);
    let playable = item;
    if (item.kind === "series" && state.features.catalog) {
      const episodes = await seriesEpisodes(item.id);
      if (mine !== openToken) return;
      if (episodes.length > 0) {
        // The series opens on the episode to watch now: its Next Up, else the first.
        const next = await nextEpisodeOf(item.id);
        if (mine !== openToken) return;
        playable =
          episodes.find((e) => e.id === next?.content_id) ??
          episodes.find((e) => state.progress.get(e.id)?.resume_position_seconds != null) ??
          episodes[0];
        render(
          ui.episodeSelect,
          episodes.map((e) => h("option", { value: e.id, selected: e.id === playable.id }, e.title)),
        );
        ui.episodes.hidden = false;
      }
    }
    await load(playable, mine);
  }

  async function seriesEpisodes(seriesId) {
    try {
      const page = await api("GET", `/content?series_id=${encodeURIComponent(seriesId)}&limit=100`);
      for (const episode of page.items) rememberTitle(episode);
      return page.items;
    } catch {
      return [];
    }
  }

  async function load(item, mine) {
    const duration = item.runtime_minutes ? item.runtime_minutes * 60 : FALLBACK_DURATION_SECONDS;
    target = { id: item.id, title: item.title, duration, seriesId: item.kind === "episode" ? item.series_id : null };
    position = 0;
    ui.next.hidden = true;
    ui.rating.hidden = !state.features.ratings;
    if (state.features.ratings) ratingControl(ui.ratingSelect, item.id);
    showClock();
    setStatus("Checking where you left off…");
    try {
      const resume = await api("GET", `/resume/${encodeURIComponent(item.id)}`);
      if (mine !== openToken) return;
      offer(resume.resume_position_seconds);
      setStatus(
        resume.watched
          ? "You have watched this."
          : resume.resume_position_seconds === null
            ? "Ready to play."
            : `You stopped at ${formatClock(resume.resume_position_seconds)}.`,
      );
    } catch (error) {
      if (mine === openToken) fail(error);
    }
    (ui.offer.hidden ? ui.toggle : ui.resume).focus();
  }

  function showHeader(item) {
    ui.title.textContent = item.title ?? item.id;
    const bits = [item.year, item.kind, (item.genres ?? []).join(", "), item.rating ? `★ ${item.rating}` : null];
    ui.meta.textContent = bits.filter(Boolean).join(" · ");
    ui.poster.style.setProperty("--hue", String(posterHue(item.id)));
    ui.poster.dataset.initials = initials(item.title ?? item.id);
  }

  /** Saves the final position, ends the session, and closes the dialog. */
  async function close() {
    clearInterval(ticker);
    ticker = null;
    openToken++;
    const ending = session;
    const wasPlaying = playing;
    playing = false;
    if (ending) {
      if (wasPlaying) report("paused");
      session = null;
      const last = reports;
      reports = Promise.resolve();
      await last;
      try {
        await api("DELETE", `/sessions/${encodeURIComponent(ending.id)}`);
      } catch (error) {
        fail(error);
      }
    }
    target = null;
    if (dialog.open) dialog.close();
    if (ending) onSessionEnded(ending.content_id);
  }

  // ---- wiring ----

  ui.toggle.addEventListener("click", () => (playing ? pause() : play()));
  ui.resume.addEventListener("click", () => play(Number(ui.resume.dataset.position)));
  ui.startOver.addEventListener("click", () => play(0));
  ui.back.addEventListener("click", () => seekTo(position - 10));
  ui.forward.addEventListener("click", () => seekTo(position + 30));
  ui.seek.addEventListener("input", () => {
    // Seeking is a choice of its own: the resume offer gives way to the plain controls.
    ui.offer.hidden = true;
    ui.toggle.hidden = false;
    seeking = true;
    position = Number(ui.seek.value);
    showClock();
  });
  ui.seek.addEventListener("change", () => {
    seeking = false;
    seekTo(Number(ui.seek.value));
  });
  /** Ends this tab's session (its last position saved) and loads another title in the same dialog. */
  async function switchTo(id) {
    const ending = session;
    playing = false;
    if (ending) {
      session = null;
      await reports;
      await api("DELETE", `/sessions/${encodeURIComponent(ending.id)}`).catch(fail);
      onSessionEnded(ending.content_id);
    }
    const mine = ++openToken;
    const item = await describeTitle(id);
    if (mine !== openToken) return;
    showHeader(item);
    await load(item, mine);
  }

  ui.episodeSelect.addEventListener("change", () => void switchTo(ui.episodeSelect.value));
  ui.nextPlay.addEventListener("click", async () => {
    const id = ui.nextPlay.dataset.contentId;
    if (!id) return;
    if (!ui.episodes.hidden && [...ui.episodeSelect.options].some((o) => o.value === id)) ui.episodeSelect.value = id;
    await switchTo(id);
    await play(0);
  });
  ui.close.addEventListener("click", () => void close());
  // Escape closes the dialog: end the session the same way as the Close button.
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    void close();
  });
  // A tab closed mid-play still ends its session, with its last position.
  window.addEventListener("pagehide", () => {
    if (!session) return;
    const headers = { authorization: `Bearer ${localStorage.getItem("mg.access_token")}` };
    const body = JSON.stringify({ position_seconds: Math.round(position), playback_state: "paused" });
    const id = encodeURIComponent(session.id);
    void fetch(`/api/v1/sessions/${id}/position`, {
      method: "PATCH",
      keepalive: true,
      headers: { ...headers, "content-type": "application/json" },
      body,
    }).then(() => fetch(`/api/v1/sessions/${id}`, { method: "DELETE", keepalive: true, headers }));
  });
  // Another device moved this title's resume point: offer the new one here.
  subscribe((topic) => {
    if (topic !== "progress" || !target || session || !dialog.open) return;
    const progress = state.progress.get(target.id);
    if (!progress) return;
    offer(progress.resume_position_seconds);
    if (progress.resume_position_seconds !== null) {
      setStatus(`Moved on another device: you stopped at ${formatClock(progress.resume_position_seconds)}.`);
    }
  });

  return {
    open,
    close,
    get openId() {
      return target?.id ?? null;
    },
  };
}

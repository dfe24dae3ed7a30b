/** The web client: sign in, then search, play, resume, Next Up, watchlist, devices, recommendations. */
import { ApiError, api, auth, query, signIn, signOut, whenSignedOut } from "./api.js";
import { $, h, render, toast } from "./dom.js";
import {
  episodeCode,
  formatClock,
  initials,
  nextUpReasonText,
  posterHue,
  relativeTime,
  tokenSubject,
} from "./format.js";
import { currentProfile, loadProfiles, pickProfile, renderProfileChip, setUpHousehold } from "./households.js";
import { LiveSync } from "./live.js";
import { createPlayer } from "./player.js";
import { createSearch } from "./search.js";
import { changed, detectFeatures, fillTitles, knownTitle, rememberTitle, state, subscribe } from "./state.js";
import { episodeButtonLabel, hideCard, loadNextUp, loadRatings } from "./viewing.js";
import { loadWebhooks, setUpWebhooks } from "./webhooks.js";

const HEARTBEAT_MS = 60_000;
const APP_VERSION = "0.1.0";

const live = new LiveSync(state.deviceId);
let recommendations = { status: "loading", items: [] };
let popular = { status: "loading", items: [] };
let heartbeat = null;

// ---- building blocks ----

/** A title as a card: poster stand-in, name, facts, Play and watchlist buttons (and any `actions`). */
function titleCard(id, { layout = "card", extra = null, playLabel = "Play", actions = null } = {}) {
  const item = knownTitle(id);
  const facts = [
    item.year,
    item.kind,
    (item.genres ?? []).slice(0, 2).join(", "),
    item.rating ? `★ ${item.rating}` : null,
  ];
  const hidden = (text) => h("span", { class: "visually-hidden" }, text);
  return h(
    "article",
    { class: `title-card title-card-${layout}`, dataset: { contentId: id } },
    h(
      "button",
      {
        type: "button",
        class: "poster",
        style: { "--hue": String(posterHue(id)) },
        tabindex: "-1",
        "aria-hidden": "true",
        onclick: () => player.open(id),
      },
      initials(item.title ?? id),
    ),
    h(
      "div",
      { class: "title-body" },
      h("h3", { class: "title-name" }, item.title ?? id),
      h("p", { class: "title-meta" }, facts.filter(Boolean).join(" · ")),
      extra,
      h(
        "div",
        { class: "title-actions" },
        h(
          "button",
          { type: "button", class: "primary", onclick: () => player.open(id) },
          playLabel,
          hidden(` ${item.title}`),
        ),
        state.features.watchlist ? watchlistButton(h("button", { type: "button" }), id) : null,
        actions,
      ),
    ),
  );
}

/** Makes `button` the watchlist toggle of `id`; every toggle of the same title updates together. */
function watchlistButton(button, id) {
  button.dataset.watchlistFor = id;
  button.classList.add("watchlist-toggle");
  button.onclick = () => toggleWatchlist(id);
  paintWatchlistButton(button);
  return button;
}

function paintWatchlistButton(button) {
  const id = button.dataset.watchlistFor;
  const inList = state.watchlist.has(id);
  button.setAttribute("aria-pressed", String(inList));
  render(
    button,
    h("span", { "aria-hidden": "true", class: "icon" }, inList ? "✓" : "+"),
    " Watchlist",
    h("span", { class: "visually-hidden" }, ` – ${knownTitle(id).title}`),
  );
}

async function toggleWatchlist(id) {
  const adding = !state.watchlist.has(id);
  const path = `/sync/watchlist/${encodeURIComponent(id)}`;
  // The device header keeps this tab's own socket from being told what it just did.
  const headers = { "x-device-id": state.deviceId };
  try {
    if (adding) {
      state.watchlist.set(id, await api("PUT", path, { headers }));
    } else {
      await api("DELETE", path, { headers }).catch((error) => {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      });
      state.watchlist.delete(id);
    }
    changed("watchlist");
    toast(`${adding ? "Added" : "Removed"} “${knownTitle(id).title}” ${adding ? "to" : "from"} your watchlist`);
  } catch (error) {
    toast(`Watchlist: ${error.message}`, "error");
  }
}

// ---- rows ----

function renderRow(section, { items, empty, card }) {
  const list = section.querySelector(".cards");
  const hint = section.querySelector(".row-empty");
  hint.textContent = items.length === 0 ? empty : "";
  hint.hidden = items.length > 0;
  render(
    list,
    items.map((item) => h("li", {}, card(item))),
  );
}

/** Continue watching as the server groups it: films in progress, and a series as its Next Up episode. */
function renderContinueWatching() {
  const section = $("#row-continue");
  const items = state.continueWatching.filter((p) => !knownTitle(p.content_id).restricted);
  fillTitles(items.map((p) => p.content_id));
  renderRow(section, {
    items,
    empty: "Nothing in progress. Play something and stop halfway: it shows up here, on every device.",
    card: (p) => {
      const resumable = p.resume_position_seconds !== null;
      const label = p.series_id && p.season_number != null ? episodeButtonLabel(p) : "Resume";
      const title = knownTitle(p.content_id).title ?? p.content_id;
      return titleCard(p.content_id, {
        playLabel: label,
        extra: h(
          "div",
          { class: "progress-info" },
          resumable
            ? h("progress", {
                max: "100",
                value: String(Math.round(p.completion_percentage)),
                "aria-label": `${Math.round(p.completion_percentage)} % watched`,
              })
            : null,
          h(
            "p",
            { class: resumable ? "resume-at" : "next-up-reason" },
            resumable ? `Resume from ${formatClock(p.resume_position_seconds)}` : nextUpReasonText(p.reason),
            p.last_watched_at ? ` · ${relativeTime(p.last_watched_at)}` : "",
          ),
        ),
        actions: h(
          "button",
          {
            type: "button",
            class: "link-button hide-card",
            onclick: async () => {
              if (!(await hideCard(p.content_id, title))) return;
              state.continueWatching = state.continueWatching.filter((c) => c !== p);
              changed("continue");
              inBackground(loadNextUp());
            },
          },
          "Hide",
          h("span", { class: "visually-hidden" }, ` ${title}`),
        ),
      });
    },
  });
}

/** One episode per series: the one to play now, with why. */
function renderNextUp() {
  const section = $("#row-next-up");
  section.hidden = !state.features.nextUp;
  renderRow(section, {
    items: state.nextUp.filter((n) => !knownTitle(n.content_id).restricted),
    empty: "Start a series: the episode to watch next waits here.",
    card: (n) =>
      titleCard(n.content_id, {
        playLabel: episodeButtonLabel(n),
        extra: h(
          "p",
          { class: "next-up-reason" },
          `${n.series_title} · ${episodeCode(n.season_number, n.episode_number)} · ${nextUpReasonText(n.reason)}`,
        ),
      }),
  });
}

function renderWatchlist() {
  const section = $("#row-watchlist");
  if (!state.features.watchlist) {
    renderRow(section, { items: [], empty: "The watchlist is not available on this server yet.", card: () => null });
    return;
  }
  const items = [...state.watchlist.values()]
    .filter((w) => !knownTitle(w.content_id).restricted)
    .sort((a, b) => String(b.added_at).localeCompare(String(a.added_at)));
  fillTitles(items.map((w) => w.content_id));
  renderRow(section, {
    items,
    empty: "Your watchlist is empty. Add titles with “+ Watchlist”; other devices see them at once.",
    card: (w) => titleCard(w.content_id),
  });
}

function renderRecommendations() {
  renderRow($("#row-recommendations"), {
    items: recommendations.items,
    empty:
      recommendations.status === "missing"
        ? "Recommendations are not available on this server yet."
        : recommendations.status === "loading"
          ? "Loading…"
          : recommendations.status === "error"
            ? "Recommendations could not be loaded."
            : "No recommendations yet: watch something first.",
    card: (r) => titleCard(r.content_id, { extra: h("p", { class: "reason" }, r.reason) }),
  });
}

function renderPopular() {
  const section = $("#row-popular");
  // Until the service knows the user, their recommendations are the popular titles already.
  section.hidden = recommendations.status === "ok" && recommendations.personalized === false;
  renderRow(section, {
    items: popular.items,
    empty: popular.status === "missing" ? "The catalog is not searchable on this server yet." : "Loading…",
    card: (s) => titleCard(s.content_id),
  });
}

function renderDevices() {
  const list = $("#devices-list");
  const note = $("#devices-empty");
  if (!state.features.devices) {
    note.textContent = "Devices are not available on this server yet.";
    render(list);
    return;
  }
  const devices = [...state.devices.values()].sort(
    (a, b) =>
      Number(b.device_id === state.deviceId) - Number(a.device_id === state.deviceId) ||
      Number(b.is_online) - Number(a.is_online) ||
      String(b.last_seen).localeCompare(String(a.last_seen)),
  );
  note.textContent = devices.length === 0 ? "No devices yet." : "";
  render(
    list,
    devices.map((d) => {
      const mine = d.device_id === state.deviceId;
      const online = mine || d.is_online;
      return h(
        "li",
        { class: `device ${online ? "is-online" : "is-offline"}`, dataset: { deviceId: d.device_id } },
        h("span", { class: "device-dot", "aria-hidden": "true" }),
        h(
          "div",
          { class: "device-body" },
          h("p", { class: "device-name" }, d.device_name, mine ? h("span", { class: "badge" }, "this tab") : null),
          h(
            "p",
            { class: "device-state" },
            `${d.device_type} · `,
            online ? "Online" : `Offline · seen ${relativeTime(d.last_seen)}`,
          ),
        ),
        mine || online
          ? null
          : h(
              "button",
              {
                type: "button",
                class: "link-button",
                onclick: () => removeDevice(d.device_id),
              },
              "Remove",
              h("span", { class: "visually-hidden" }, ` ${d.device_name}`),
            ),
      );
    }),
  );
}

async function removeDevice(id) {
  try {
    await api("DELETE", `/devices/${encodeURIComponent(id)}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) return toast(`Devices: ${error.message}`, "error");
  }
  state.devices.delete(id);
  changed("devices");
}

function renderLiveStatus(status) {
  const el = $("#live-status");
  const text = {
    live: "Live: changes from your other devices appear here at once",
    connecting: "Connecting…",
    offline: "Offline: reconnecting",
    unavailable: "Live sync is not available on this server yet",
  }[status];
  el.dataset.status = status;
  render(el, h("span", { class: "live-dot", "aria-hidden": "true" }), text);
}

subscribe((topic) => {
  if (topic === "watchlist" || topic === "titles") {
    renderWatchlist();
    for (const button of document.querySelectorAll("[data-watchlist-for]")) paintWatchlistButton(button);
  }
  if (topic === "continue" || topic === "titles") renderContinueWatching();
  if (topic === "next-up" || topic === "titles") renderNextUp();
  if (topic === "titles") {
    renderRecommendations();
    renderPopular();
  }
  if (topic === "devices") renderDevices();
});

// ---- loading ----

/** Reads a list endpoint; a server without it is "missing", not an error. */
/** Work nobody awaits: a refused token already sent the user to the sign-in form, so only other failures are logged. */
function inBackground(promise) {
  promise.catch((error) => {
    if (!(error instanceof ApiError && error.status === 401)) console.warn(error);
  });
}

async function load(path) {
  try {
    return { status: "ok", data: await api("GET", path) };
  } catch (error) {
    if (error instanceof ApiError && error.missingRoute) return { status: "missing", data: null };
    if (error instanceof ApiError && error.status === 401) throw error;
    console.warn(`GET ${path}:`, error);
    return { status: "error", data: null };
  }
}

async function loadWatchlist() {
  if (!state.features.watchlist) return renderWatchlist();
  const { data } = await load("/sync/watchlist?limit=100");
  if (data) state.watchlist = new Map(data.items.map((w) => [w.content_id, w]));
  changed("watchlist");
}

async function loadContinueWatching() {
  const { data } = await load("/continue-watching?limit=20");
  if (data) {
    for (const [id, p] of state.progress) if (p.resume_position_seconds !== null) state.progress.delete(id);
    for (const p of data.items) state.progress.set(p.content_id, p);
    state.continueWatching = data.items;
  }
  changed("progress");
  changed("continue");
}

/** What another device did to the viewing record reloads the rows that group it (once, shortly after). */
let viewingReload = null;
function reloadViewingSoon() {
  clearTimeout(viewingReload);
  viewingReload = setTimeout(() => {
    if (!auth.accessToken) return;
    inBackground(loadContinueWatching());
    inBackground(loadNextUp());
  }, 250);
}

async function loadDevices() {
  if (!state.features.devices) return renderDevices();
  const { data } = await load("/devices?limit=100");
  if (data) state.devices = new Map(data.items.map((d) => [d.device_id, d]));
  changed("devices");
}

async function loadRecommendations() {
  $("#recommendations-refresh").hidden = !state.features.recommendations;
  if (!state.features.recommendations) {
    recommendations = { status: "missing", items: [] };
    return renderRecommendations();
  }
  const { status, data } = await load("/recommendations?limit=12");
  recommendations = { status, items: data?.items ?? [], personalized: data?.personalized ?? null };
  for (const r of recommendations.items) rememberTitle(r);
  renderRecommendations();
  renderPopular();
}

/** What is being watched this week, else the most popular titles of the catalog: something to play in the first minute. */
async function loadPopular() {
  if (state.features.trending) {
    const { status, data } = await load(`/trending${query({ window: "7d", limit: 12 })}`);
    const items = data?.items ?? [];
    for (const item of items) rememberTitle(item);
    if (items.length > 0) {
      popular = { status, items: items.map((item) => ({ content_id: item.content_id })) };
      return renderPopular();
    }
  }
  if (state.features.catalog) {
    const { status, data } = await load(`/content${query({ limit: 24 })}`);
    // Episodes are reached through their series.
    const items = (data?.items ?? []).filter((item) => item.kind !== "episode").slice(0, 12);
    for (const item of items) rememberTitle(item);
    popular = { status, items: items.map((item) => ({ content_id: item.id })) };
  } else if (state.features.autocomplete) {
    const { status, data } = await load(`/autocomplete${query({ q: "", limit: 12 })}`);
    for (const s of data?.suggestions ?? []) rememberTitle(s);
    popular = { status, items: data?.suggestions ?? [] };
  } else {
    popular = { status: "missing", items: [] };
  }
  renderPopular();
}

/** This tab is a device of the user: register it (a Web device) so the others can see it. */
async function registerDevice() {
  if (!state.features.devices) return;
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(ua)
        ? "Chromium"
        : /Safari\//.test(ua)
          ? "Safari"
          : "Browser";
  const os = /Windows/.test(ua)
    ? "Windows"
    : /Android/.test(ua)
      ? "Android"
      : /Mac OS/.test(ua)
        ? "macOS"
        : /iPhone|iPad/.test(ua)
          ? "iOS"
          : /Linux/.test(ua)
            ? "Linux"
            : "web";
  try {
    const device = await api("PUT", `/devices/${encodeURIComponent(state.deviceId)}`, {
      body: {
        device_type: "Web",
        platform: `${browser} on ${os}`,
        capabilities: { websocket: true, max_resolution: `${screen.width}x${screen.height}` },
        app_version: APP_VERSION,
        device_name: `${browser} on ${os} · tab ${state.deviceId.slice(-4)}`,
      },
    });
    state.devices.set(device.device_id, device);
    changed("devices");
  } catch (error) {
    if (!(error instanceof ApiError && error.missingRoute)) toast(`Devices: ${error.message}`, "error");
  }
}

/** Applies what another device changed, announcing the watchlist changes. */
function applyChange(doc) {
  if (doc.full) {
    state.watchlist = new Map(doc.watchlist.items.map((w) => [w.content_id, w]));
    state.progress = new Map(doc.progress.items.map((p) => [p.content_id, p]));
    state.devices = new Map(doc.devices.items.map((d) => [d.device_id, d]));
  } else {
    for (const w of doc.watchlist.items) {
      if (!state.watchlist.has(w.content_id)) announce(w.content_id, "added to");
      state.watchlist.set(w.content_id, w);
    }
    for (const id of doc.watchlist.removed) {
      if (state.watchlist.delete(id)) announce(id, "removed from");
    }
    for (const p of doc.progress.items) state.progress.set(p.content_id, p);
    for (const id of doc.progress.removed) state.progress.delete(id);
    for (const d of doc.devices.items) state.devices.set(d.device_id, d);
    for (const id of doc.devices.removed) state.devices.delete(id);
  }
  const ratings = doc.ratings ?? { items: [], removed: [] };
  if (doc.full) state.ratings = new Map();
  for (const r of ratings.items) state.ratings.set(r.content_id, r.rating);
  for (const id of ratings.removed) state.ratings.delete(id);
  if (doc.full || ratings.items.length + ratings.removed.length > 0) changed("ratings");
  // Progress, plays and hides change how continue watching and Next Up group the record.
  const viewing = [doc.progress, doc.plays, doc.hidden].filter(Boolean);
  if (doc.full || viewing.some((section) => section.items.length + section.removed.length > 0)) {
    for (const p of doc.progress.items) {
      const card = state.continueWatching.find((c) => c.content_id === p.content_id);
      if (card) Object.assign(card, p);
    }
    changed("continue");
    reloadViewingSoon();
  }
  if (doc.full || doc.watchlist.items.length + doc.watchlist.removed.length > 0) changed("watchlist");
  if (doc.full || doc.progress.items.length + doc.progress.removed.length > 0) changed("progress");
  if (doc.full || doc.devices.items.length + doc.devices.removed.length > 0) changed("devices");
}

function announce(id, what) {
  toast(`“${knownTitle(id).title}” was ${what} your watchlist on another device`);
}

live.addEventListener("change", (event) => applyChange(event.detail));
// A fresh connection (not a resumed one) reloads the lists: nothing changed in between is missed.
live.addEventListener("hello", () => {
  void loadWatchlist();
  void loadContinueWatching();
  void loadDevices();
  inBackground(loadNextUp());
  inBackground(loadRatings());
});
live.addEventListener("status", (event) => renderLiveStatus(event.detail));

// ---- signing in and out ----

const player = createPlayer({
  watchlistButton: (button, id) => {
    if (state.features.watchlist) watchlistButton(button, id);
    else button.hidden = true;
  },
  onSessionEnded: () => {
    inBackground(loadContinueWatching());
    inBackground(loadNextUp());
    // The profile learns from the ended session through the queue: ask again a little later.
    setTimeout(() => auth.accessToken && inBackground(loadRecommendations()), 3000);
  },
});
createSearch({ openTitle: (id) => player.open(id), titleCard });

/** The profile this page was entered as: another tab switching profiles reloads it. */
let enteredAs = null;

async function enterApp() {
  enteredAs = currentProfile().id;
  $("#sign-in").hidden = true;
  $("#profile-picker").hidden = true;
  $("#app").hidden = false;
  $("#search-form").hidden = !state.features.search;
  $("#account").hidden = false;
  $("#who").textContent = auth.userLabel;
  renderLiveStatus(state.features.live ? "connecting" : "unavailable");
  void loadProfiles()
    .then(renderProfileChip)
    .catch(() => {});
  await registerDevice();
  try {
    await Promise.all([
      loadWatchlist(),
      loadContinueWatching(),
      loadNextUp(),
      loadRatings(),
      loadDevices(),
      loadRecommendations(),
      loadPopular(),
    ]);
  } catch {
    return; // the token was refused: the sign-in form is back
  }
  if (state.features.live) live.start();
  void loadWebhooks().catch(() => {});
  clearInterval(heartbeat);
  heartbeat = setInterval(() => {
    // An open socket already keeps this device online; the heartbeat covers the gaps.
    if (state.features.devices && live.status !== "live") {
      void api("POST", `/devices/${encodeURIComponent(state.deviceId)}/heartbeat`).catch(() => {});
    }
    renderDevices();
  }, HEARTBEAT_MS);
  $("#search-input").focus();
}

function leaveApp(message = "") {
  live.stop();
  clearInterval(heartbeat);
  void player.close();
  state.watchlist.clear();
  state.progress.clear();
  state.devices.clear();
  state.ratings.clear();
  state.continueWatching = [];
  state.nextUp = [];
  $("#app").hidden = true;
  $("#search-form").hidden = true;
  $("#account").hidden = true;
  $("#profile-chip").hidden = true;
  $("#profile-picker").hidden = true;
  $("#webhook-secret").hidden = true;
  $("#sign-in").hidden = false;
  $("#sign-in-error").textContent = message;
  $("#sign-in-email").focus();
}

whenSignedOut((message) => leaveApp(message));
auth.onChange(() => {
  if (auth.signedIn && !$("#app").hidden && currentProfile().id !== enteredAs) location.reload();
  else if (auth.signedIn && $("#app").hidden && $("#profile-picker").hidden) void enterApp();
  else if (!auth.signedIn && !$("#app").hidden) leaveApp("Signed out in another tab.");
});

setUpHousehold({ onProfileChanged: () => location.reload() });

/** After a password sign-in: a household with several profiles asks who is watching. */
async function chooseProfile() {
  const profiles = await loadProfiles().catch(() => null);
  if (profiles && profiles.length > 1) {
    $("#sign-in").hidden = true;
    await pickProfile(profiles, { closable: false });
  }
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const register = event.submitter?.value === "register";
  const email = $("#sign-in-email").value.trim();
  const password = $("#sign-in-password").value;
  const error = $("#sign-in-error");
  const form = event.currentTarget;
  error.textContent = "";
  form.setAttribute("aria-busy", "true");
  try {
    await signIn(email, password, { register });
    $("#sign-in-password").value = "";
    await chooseProfile();
    await enterApp();
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 429) {
      error.textContent = `Too many attempts; try again in ${failure.retryAfter ?? "a few"} seconds.`;
    } else if (failure instanceof ApiError) {
      error.textContent = [failure.message, ...failure.fieldMessages].join(" — ");
    } else {
      error.textContent = "The service could not be reached.";
    }
  } finally {
    form.removeAttribute("aria-busy");
  }
});

$("#dev-token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("#dev-token-input").value.trim();
  const error = $("#dev-token-error");
  error.textContent = "";
  if (!tokenSubject(token)) {
    error.textContent = "That is not a JWT with a subject.";
    return;
  }
  // Checked before it is kept: a refused token must not look like an ended session.
  try {
    const response = await fetch("/api/v1/continue-watching?limit=1", {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      error.textContent = problem?.detail ?? `The service answered ${response.status}.`;
      return;
    }
  } catch {
    error.textContent = "The service could not be reached.";
    return;
  }
  auth.store({ access_token: token, email: null });
  $("#dev-token-input").value = "";
  await enterApp();
});

$("#sign-out").addEventListener("click", async () => {
  // Stop the socket, the heartbeat and the player first: nothing may run on a token being revoked.
  live.stop();
  clearInterval(heartbeat);
  await player.close();
  await signOut();
  leaveApp("Signed out.");
});

$("#recommendations-refresh").addEventListener("click", () => void loadRecommendations());

// ---- start ----

await detectFeatures();
if (!state.features.accounts) {
  $("#sign-in-form").hidden = true;
  $("#accounts-missing").hidden = false;
  $("#dev-token").open = true;
}
document.body.classList.remove("is-loading");
// Not awaited: the rows fill in as their answers arrive, and the page counts as loaded at once.
setUpWebhooks();
if (auth.signedIn) void enterApp();
else leaveApp();

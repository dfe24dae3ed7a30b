/**
 * A stand-in TV: it cannot type a password, so it signs in by code (RFC 8628): it shows the user
 * code, polls at the interval the server asks for, and once a person approves it on another
 * device it holds tokens for the chosen profile.
 */
import { api, auth, signOut } from "./api.js";
import { $, h, render } from "./dom.js";
import { currentProfile, loadProfiles } from "./households.js";

let timer = null;

async function post(path, body) {
  const response = await fetch(`/api/v1${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, data: await response.json().catch(() => null) };
}

function status(text) {
  $("#tv-status").textContent = text;
}

async function askForCode() {
  clearTimeout(timer);
  $("#tv-new-code").hidden = true;
  $("#tv-home").hidden = true;
  $("#tv-code").hidden = false;
  const { status: code, data } = await post("/auth/device/code", { client_id: "media-gateway-tv" });
  if (code !== 200) {
    status(code === 429 ? "Too many codes asked for; try again in a minute." : "The service could not be reached.");
    $("#tv-new-code").hidden = false;
    return;
  }
  $("#tv-user-code").textContent = `${data.user_code.slice(0, 4)}-${data.user_code.slice(4)}`;
  $("#tv-verification").textContent = data.verification_uri;
  status("Waiting for approval…");
  schedule(data.device_code, data.interval);
}

function schedule(deviceCode, interval) {
  timer = setTimeout(() => void poll(deviceCode, interval), interval * 1000);
}

/** One poll, answered as RFC 8628 §3.5 says. */
async function poll(deviceCode, interval) {
  const { status: code, data } = await post("/auth/device/token", { device_code: deviceCode }).catch(() => ({
    status: 0,
    data: null,
  }));
  if (code === 200) {
    auth.store({ access_token: data.access_token, refresh_token: data.refresh_token, email: null });
    return showHome();
  }
  switch (data?.error) {
    case "authorization_pending":
      return schedule(deviceCode, interval);
    case "slow_down":
      return schedule(deviceCode, data.interval ?? interval + 5);
    case "access_denied":
      status("The sign-in was denied.");
      break;
    case "expired_token":
      status("The code has expired.");
      break;
    default:
      if (code === 0 || code >= 500) return schedule(deviceCode, interval); // the network: try again
      status("This code can no longer be used.");
  }
  $("#tv-new-code").hidden = false;
}

async function showHome() {
  $("#tv-code").hidden = true;
  $("#tv-home").hidden = false;
  const me = currentProfile();
  const profiles = (await loadProfiles().catch(() => null)) ?? [];
  $("#tv-profile").textContent = profiles.find((p) => p.id === me.id)?.name ?? "you";
  $("#tv-limit").textContent = me.limit ? `Showing titles up to ${me.limit}.` : "";
  const page = await api("GET", "/content?limit=12&kind=movie");
  render(
    $("#tv-titles"),
    page.items.map((item) =>
      h(
        "li",
        { class: "title-card title-card-wide", dataset: { contentId: item.id } },
        h("h3", { class: "title-name" }, item.title),
      ),
    ),
  );
}

$("#tv-new-code").addEventListener("click", () => void askForCode());
$("#tv-sign-out").addEventListener("click", async () => {
  await signOut();
  await askForCode();
});

if (auth.signedIn) await showHome();
else await askForCode();

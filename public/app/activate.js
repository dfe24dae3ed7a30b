/** "Activate a TV": a signed-in person enters the code the TV shows and approves it for a profile. */
import { ApiError, api, auth, signIn } from "./api.js";
import { $, h, render } from "./dom.js";
import { currentProfile, loadProfiles } from "./households.js";

let profiles = [];

function showSignIn() {
  $("#activate-sign-in").hidden = false;
  $("#activate-form").hidden = true;
  $("#activate-email").focus();
}

async function showActivation() {
  profiles = (await loadProfiles()) ?? [];
  if (profiles.length === 0) {
    // A token from elsewhere (no account here): the TV can only sign in to an account's profile.
    $("#activate-sign-in-error").textContent = "Sign in with an account to activate a TV.";
    return showSignIn();
  }
  const me = currentProfile();
  render(
    $("#activate-profile"),
    profiles.map((p) =>
      h(
        "option",
        { value: p.id, selected: p.id === me.id },
        `${p.name}${p.maturity_limit ? ` (up to ${p.maturity_limit})` : ""}${p.has_pin ? " 🔒" : ""}`,
      ),
    ),
  );
  showPin();
  $("#activate-sign-in").hidden = true;
  $("#activate-form").hidden = false;
  const code = new URLSearchParams(location.search).get("code");
  if (code) $("#user-code").value = code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
  (code ? $("#activate-profile") : $("#user-code")).focus();
}

/** A PIN is asked only where the server will ask for it: a PIN profile that is neither ours nor the owner's choice. */
function showPin() {
  const chosen = profiles.find((p) => p.id === $("#activate-profile").value);
  const me = currentProfile();
  $("#activate-pin-row").hidden = !(chosen?.has_pin && !me.isOwner && me.id !== chosen.id);
}

$("#activate-profile").addEventListener("change", showPin);

$("#activate-sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#activate-sign-in-error");
  error.textContent = "";
  try {
    await signIn($("#activate-email").value.trim(), $("#activate-password").value);
    await showActivation();
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? failure.message : "The service could not be reached.";
  }
});

$("#activate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const approve = event.submitter?.value !== "deny";
  const result = $("#activate-result");
  const error = $("#activate-error");
  result.textContent = "";
  error.textContent = "";
  const profile = profiles.find((p) => p.id === $("#activate-profile").value);
  const body = { user_code: $("#user-code").value, profile_id: profile?.id ?? "", approve };
  const pin = $("#activate-pin").value.trim();
  if (!$("#activate-pin-row").hidden && pin) body.pin = pin;
  try {
    await api("POST", "/auth/device/approve", { body });
    result.textContent = approve
      ? `Approved: your TV is signing in as ${profile?.name}.`
      : "Denied: the TV will not be signed in.";
    $("#activate-form").reset();
  } catch (failure) {
    if (!(failure instanceof ApiError)) {
      error.textContent = "The service could not be reached.";
    } else if (failure.status === 404 && failure.problem?.type?.endsWith("device-code-not-found")) {
      error.textContent = "No TV is waiting with this code. Check the code, or get a new one on the TV.";
    } else if (failure.status === 409) {
      error.textContent = "This code was approved or denied already.";
    } else if (failure.status === 429) {
      error.textContent = `Too many attempts; try again in ${failure.retryAfter ?? "a few"} seconds.`;
    } else if (failure.status === 403) {
      error.textContent = "That PIN is not correct.";
      $("#activate-pin-row").hidden = false;
    } else {
      error.textContent = [failure.message, ...failure.fieldMessages].join(" — ");
    }
  }
});

if (auth.signedIn) await showActivation();
else showSignIn();

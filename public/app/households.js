/**
 * The household in the web client: who is watching (the profile picker, with PIN entry), the
 * current profile in the top bar, and the owner's profile management.
 */
import { ApiError, api, auth } from "./api.js";
import { $, h, render, toast } from "./dom.js";
import { initials, posterHue, tokenClaims } from "./format.js";

export const MATURITY_LIMITS = ["TV-Y", "TV-Y7", "G", "TV-G", "PG", "TV-PG", "PG-13", "TV-14", "R", "TV-MA", "NC-17"];

/** Who the stored access token signs in: the profile, its account, whether it is the owner's, its limit. */
export function currentProfile() {
  const claims = tokenClaims(auth.accessToken) ?? {};
  const id = claims.sub ?? null;
  const account = claims.acc ?? id;
  return { id, account, isOwner: id !== null && id === account, limit: claims.mat ?? null };
}

/** The account's profiles, or null when this server (or this token) has none. */
export async function loadProfiles() {
  try {
    return (await api("GET", "/profiles")).items;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.missingRoute)) return null;
    throw error;
  }
}

/** Signs in as another profile of the account: its tokens replace the current ones. */
async function selectProfile(profile, pin) {
  const pair = await api("POST", `/profiles/${encodeURIComponent(profile.id)}/select`, {
    body: pin === undefined ? {} : { pin },
  });
  // Only the chosen profile's tokens are kept: going back to a PIN-protected profile needs the PIN.
  auth.store({ access_token: pair.access_token, refresh_token: pair.refresh_token });
  auth.rememberProfileName(profile.name);
  return pair;
}

const needsPin = (profile) => {
  const me = currentProfile();
  return profile.has_pin && !me.isOwner && me.id !== profile.id;
};

/** Asks for a profile's PIN in a dialog; resolves with the PIN, or null when the person cancels. */
function askPin(profile, message = "") {
  const dialog = $("#pin-dialog");
  const input = $("#pin-input");
  $("#pin-dialog-title").textContent = `Enter the PIN of ${profile.name}`;
  $("#pin-error").textContent = message;
  input.value = "";
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    const form = $("#pin-form");
    const done = (value) => {
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("close", cancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const submit = (event) => {
      event.preventDefault();
      done(input.value.trim());
    };
    const cancel = () => done(null);
    form.addEventListener("submit", submit);
    dialog.addEventListener("close", cancel);
  });
}

/**
 * Switches to `profile`, asking its PIN when it has one and the current profile is not trusted
 * with it. Resolves true once signed in as the profile.
 */
async function enterProfile(profile) {
  if (profile.id === currentProfile().id) return true;
  let message = "";
  for (;;) {
    const pin = needsPin(profile) ? await askPin(profile, message) : undefined;
    if (pin === null) return false;
    try {
      await selectProfile(profile, pin);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 403 && pin !== undefined) {
        message = "That PIN is not correct.";
        continue;
      }
      if (error instanceof ApiError && error.status === 429) {
        toast(`Too many PIN attempts; try again in ${error.retryAfter ?? "a few"} seconds.`, "error");
        return false;
      }
      if (error instanceof ApiError && error.status === 400) {
        message = "A PIN is 4 to 8 digits.";
        continue;
      }
      throw error;
    }
  }
}

function limitLabel(profile) {
  return profile.maturity_limit ? `Up to ${profile.maturity_limit}` : "All ratings";
}

/**
 * Shows "Who's watching?" and resolves once a profile is chosen (true) or the picker is closed
 * without a change (false).
 */
export function pickProfile(profiles, { closable = true } = {}) {
  const section = $("#profile-picker");
  const list = $("#profile-picker-list");
  $("#profile-picker-close").hidden = !closable;
  return new Promise((resolve) => {
    const finish = (changed) => {
      section.hidden = true;
      resolve(changed);
    };
    $("#profile-picker-close").onclick = () => finish(false);
    render(
      list,
      profiles.map((profile) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "profile-tile",
              dataset: { profileId: profile.id },
              "aria-label": `${profile.name}${profile.has_pin ? " (PIN)" : ""}, ${limitLabel(profile)}`,
              onclick: async () => {
                try {
                  if (await enterProfile(profile)) finish(true);
                } catch (error) {
                  toast(`Profiles: ${error.message}`, "error");
                }
              },
            },
            h(
              "span",
              { class: "profile-avatar", style: { "--hue": String(posterHue(profile.id)) } },
              initials(profile.name),
            ),
            h(
              "span",
              { class: "profile-name" },
              profile.name,
              profile.has_pin ? h("span", { class: "lock", "aria-hidden": "true" }, " 🔒") : null,
            ),
            h("span", { class: "profile-limit" }, limitLabel(profile)),
          ),
        ),
      ),
    );
    section.hidden = false;
    list.querySelector("button")?.focus();
  });
}

/** The current profile in the top bar, and the owner's "Profiles" button. */
export function renderProfileChip(profiles) {
  const me = currentProfile();
  const chip = $("#profile-chip");
  const mine = profiles?.find((p) => p.id === me.id);
  if (mine) auth.rememberProfileName(mine.name);
  chip.hidden = !profiles;
  $("#profile-name").textContent = mine?.name ?? auth.profileName ?? "";
  $("#profile-limit").textContent = me.limit ? `· up to ${me.limit}` : "";
  $("#manage-profiles").hidden = !me.isOwner || !profiles;
}

// ---- the owner's management ----

function limitSelect(id, value) {
  return h(
    "select",
    { id },
    h("option", { value: "", selected: value === null }, "All ratings"),
    MATURITY_LIMITS.map((label) => h("option", { value: label, selected: value === label }, `Up to ${label}`)),
  );
}

async function refreshManager() {
  const profiles = (await loadProfiles()) ?? [];
  renderProfileChip(profiles);
  render(
    $("#profiles-list"),
    profiles.map((p) => {
      const field = `profile-${p.id}`;
      const name = h("input", { id: `${field}-name`, value: p.name, maxlength: "40", required: true });
      const limit = limitSelect(`${field}-limit`, p.maturity_limit);
      const pin = h("input", {
        id: `${field}-pin`,
        inputmode: "numeric",
        pattern: "[0-9]{4,8}",
        placeholder: p.has_pin ? "•••• (kept)" : "none",
        autocomplete: "off",
      });
      const save = async () => {
        const body = { name: name.value.trim(), maturity_limit: limit.value || null };
        if (pin.value.trim()) body.pin = pin.value.trim();
        await manage(() => api("PATCH", `/profiles/${encodeURIComponent(p.id)}`, { body }), `Saved ${body.name}`);
      };
      return h(
        "li",
        { class: "profile-row", dataset: { profileId: p.id } },
        h("label", { for: name.id }, "Name"),
        name,
        h("label", { for: limit.id }, "Maturity"),
        limit,
        h("label", { for: pin.id }, "New PIN"),
        pin,
        h(
          "div",
          { class: "form-actions" },
          h(
            "button",
            { type: "button", class: "primary", onclick: save },
            "Save",
            h("span", { class: "visually-hidden" }, ` ${p.name}`),
          ),
          p.has_pin
            ? h(
                "button",
                {
                  type: "button",
                  onclick: () =>
                    manage(
                      () => api("PATCH", `/profiles/${encodeURIComponent(p.id)}`, { body: { pin: null } }),
                      "PIN removed",
                    ),
                },
                "Remove PIN",
              )
            : null,
          p.is_owner
            ? h("span", { class: "badge" }, "owner")
            : h(
                "button",
                {
                  type: "button",
                  onclick: () => {
                    if (!confirm(`Delete ${p.name} and everything they watched?`)) return;
                    void manage(() => api("DELETE", `/profiles/${encodeURIComponent(p.id)}`), `Deleted ${p.name}`);
                  },
                },
                "Delete",
                h("span", { class: "visually-hidden" }, ` ${p.name}`),
              ),
        ),
      );
    }),
  );
}

async function manage(call, done) {
  const error = $("#profiles-error");
  error.textContent = "";
  try {
    await call();
    toast(done);
    await refreshManager();
  } catch (failure) {
    error.textContent =
      failure instanceof ApiError ? [failure.message, ...failure.fieldMessages].join(" — ") : String(failure);
  }
}

export function setUpHousehold({ onProfileChanged }) {
  const dialog = $("#profiles-dialog");
  render($("#new-profile-limit-slot"), limitSelect("new-profile-limit", null));
  $("#manage-profiles").addEventListener("click", async () => {
    await refreshManager();
    dialog.showModal();
  });
  $("#profiles-close").addEventListener("click", () => dialog.close());
  $("#new-profile-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: $("#new-profile-name").value.trim() };
    const limit = $("#new-profile-limit").value;
    const pin = $("#new-profile-pin").value.trim();
    if (limit) body.maturity_limit = limit;
    if (pin) body.pin = pin;
    await manage(() => api("POST", "/profiles", { body }), `Added ${body.name}`);
    if (!$("#profiles-error").textContent) event.target.reset();
  });
  $("#switch-profile").addEventListener("click", async () => {
    const profiles = await loadProfiles();
    if (!profiles) return;
    if (await pickProfile(profiles)) onProfileChanged();
  });
}

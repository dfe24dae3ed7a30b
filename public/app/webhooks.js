/**
 * The Webhooks panel: the signed-in user's webhooks (add one, see its secret once, list them with
 * their backlog, see each one's recent deliveries, delete).
 */
import { ApiError, api } from "./api.js";
import { $, h, render, toast } from "./dom.js";
import { state } from "./state.js";

let typesLoaded = false;

/** The event types, from the published schema, as choices of the form. */
async function loadEventTypes() {
  if (typesLoaded) return;
  try {
    const response = await fetch("/events/schema.json");
    const schema = await response.json();
    const select = $("#webhook-events");
    for (const type of Object.keys(schema["x-versions"] ?? {}).sort()) {
      select.append(h("option", { value: type }, type));
    }
    typesLoaded = true;
  } catch {
    // "Every event" alone still works.
  }
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function backlogText(w) {
  const parts = [w.pending > 0 ? `${w.pending} pending` : "nothing pending"];
  if (w.retrying > 0) parts.push(`${w.retrying} retrying`);
  if (w.failed > 0) parts.push(`${w.failed} failed`);
  if (w.lag_seconds !== null) parts.push(`oldest waiting ${w.lag_seconds} s`);
  return parts.join(" · ");
}

function deliveryRow(d) {
  const outcome = d.last_status_code !== null ? `HTTP ${d.last_status_code}` : (d.last_error ?? "not tried yet");
  return h(
    "li",
    { class: `delivery delivery-${d.status}`, dataset: { eventId: d.event_id } },
    `${d.type}: ${d.status}, ${plural(d.attempts, "attempt")}, ${outcome}`,
  );
}

async function toggleDeliveries(webhook, item, button) {
  const open = item.querySelector(".delivery-list");
  if (open) {
    open.remove();
    button.textContent = "Deliveries";
    button.setAttribute("aria-expanded", "false");
    return;
  }
  const page = await api("GET", `/webhooks/${encodeURIComponent(webhook.id)}/deliveries?limit=20`);
  const list = h(
    "ul",
    { class: "delivery-list", role: "list", "aria-label": `Deliveries to ${webhook.url}` },
    page.items.length === 0 ? h("li", { class: "hint" }, "No deliveries yet.") : page.items.map(deliveryRow),
  );
  item.append(list);
  button.textContent = "Hide deliveries";
  button.setAttribute("aria-expanded", "true");
}

function webhookRow(w) {
  const item = h("li", { class: "webhook", dataset: { id: w.id } });
  const deliveries = h("button", { type: "button", "aria-expanded": "false" }, "Deliveries");
  deliveries.addEventListener("click", () =>
    toggleDeliveries(w, item, deliveries).catch((error) => toast(error.message, "error")),
  );
  const remove = h(
    "button",
    {
      type: "button",
      "aria-label": `Delete webhook ${w.url}`,
      onclick: async () => {
        try {
          await api("DELETE", `/webhooks/${encodeURIComponent(w.id)}`);
          await loadWebhooks();
        } catch (error) {
          toast(error.message, "error");
        }
      },
    },
    "Delete",
  );
  render(
    item,
    h("p", { class: "webhook-url" }, h("strong", {}, w.url)),
    h("p", { class: "hint" }, `${w.events.join(", ")} — ${backlogText(w)}`),
    h("div", { class: "webhook-actions" }, deliveries, remove),
  );
  return item;
}

/** Shows the panel with the caller's webhooks (hidden when the server has no webhooks). */
export async function loadWebhooks() {
  const panel = $("#webhooks");
  if (!state.features.webhooks) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  void loadEventTypes();
  const { items } = await api("GET", "/webhooks");
  render($("#webhooks-list"), items.map(webhookRow));
  $("#webhooks-empty").textContent = items.length === 0 ? "No webhooks yet." : "";
}

export function setUpWebhooks() {
  $("#webhook-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("#webhook-error");
    error.textContent = "";
    const url = $("#webhook-url").value.trim();
    const events = [$("#webhook-events").value];
    try {
      const created = await api("POST", "/webhooks", { body: { url, events } });
      $("#webhook-secret-value").textContent = created.secret;
      $("#webhook-secret").hidden = false;
      $("#webhook-url").value = "";
      await loadWebhooks();
    } catch (e) {
      error.textContent =
        e instanceof ApiError && e.fieldMessages.length > 0 ? e.fieldMessages.join("; ") : String(e.message);
    }
  });
}

/**
 * Search: a combobox with autocomplete as you type (WAI-ARIA combobox pattern), "did you mean"
 * when the service corrected the query, facet filters with counts, and paged results.
 */
import { ApiError, api, query } from "./api.js";
import { $, h, render, toast } from "./dom.js";
import { rememberTitle } from "./state.js";

const PAGE_SIZE = 10;
const SUGGEST_DELAY_MS = 120;
const FACETS_SHOWN = 8;

export function createSearch({ openTitle, titleCard }) {
  const form = $("#search-form");
  const input = $("#search-input");
  const listbox = $("#search-suggestions");
  const section = $("#results");
  const heading = $("#results-heading");
  const correction = $("#results-correction");
  const summary = $("#results-summary");
  const list = $("#results-list");
  const facetsBox = $("#results-facets");
  const pager = $("#results-pager");

  let suggestions = [];
  let active = -1;
  let suggestSeq = 0;
  let searchSeq = 0;
  let suggestTimer = null;
  /** Open or folded as the user left the filters; until then folded on a phone, where they would push the results off the screen. */
  let filtersOpen = null;
  /** The search on screen: what was typed, the filters, the page. */
  let current = { q: "", page: 1, genre: [], platform: [], rating_min: "", year_min: "", year_max: "" };

  // ---- autocomplete ----

  function closeSuggestions() {
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function showSuggestions(items) {
    suggestions = items;
    active = -1;
    render(
      listbox,
      items.map((s, i) =>
        h(
          "li",
          {
            id: `suggestion-${i}`,
            role: "option",
            "aria-selected": "false",
            class: "suggestion",
            onmousedown: (event) => event.preventDefault(),
            onclick: () => choose(i),
          },
          h("span", { class: "suggestion-text" }, s.text),
          h("span", { class: "badge" }, s.type),
        ),
      ),
    );
    const open = items.length > 0 && document.activeElement === input;
    listbox.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    const options = listbox.querySelectorAll("[role=option]");
    if (options.length === 0) return;
    active = (index + options.length) % options.length;
    for (const [i, option] of options.entries()) option.setAttribute("aria-selected", String(i === active));
    input.setAttribute("aria-activedescendant", options[active].id);
    options[active].scrollIntoView({ block: "nearest" });
  }

  function choose(index) {
    const picked = suggestions[index];
    if (!picked) return;
    input.value = picked.text;
    closeSuggestions();
    openTitle(picked.content_id);
  }

  async function suggest() {
    const q = input.value;
    const mine = ++suggestSeq;
    try {
      const { suggestions: items } = await api("GET", `/autocomplete${query({ q, limit: 8 })}`);
      if (mine !== suggestSeq) return;
      for (const s of items) rememberTitle(s);
      showSuggestions(q.trim() === "" ? [] : items);
    } catch {
      if (mine === suggestSeq) closeSuggestions();
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, SUGGEST_DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    const open = !listbox.hidden;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (!open && suggestions.length > 0) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
      highlight(active + 1);
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      highlight(active - 1);
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      closeSuggestions();
    }
  });
  input.addEventListener("blur", () => setTimeout(closeSuggestions, 100));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(suggestTimer);
    suggestSeq++;
    closeSuggestions();
    current = { ...current, q: input.value.trim(), page: 1, genre: [], platform: [] };
    void run({ reveal: true });
  });

  // ---- results ----

  /**
   * Runs the current search. `reveal` (a new query or page) scrolls to the results and moves focus
   * to their heading; a filter change keeps focus on the filter that was just used.
   */
  async function run({ reveal = false } = {}) {
    const mine = ++searchSeq;
    section.hidden = false;
    section.setAttribute("aria-busy", "true");
    try {
      const params = { ...current, page_size: PAGE_SIZE };
      const result = await api("GET", `/search${query(params)}`);
      if (mine !== searchSeq) return;
      for (const item of result.results) rememberTitle(item);
      show(result, reveal);
    } catch (error) {
      if (mine !== searchSeq) return;
      render(list);
      render(facetsBox);
      render(pager);
      correction.hidden = true;
      summary.textContent =
        error instanceof ApiError && error.missingRoute
          ? "Search is not available on this server yet."
          : `Search failed: ${error.message}`;
      if (!(error instanceof ApiError)) toast("The service could not be reached.", "error");
    } finally {
      if (mine === searchSeq) section.removeAttribute("aria-busy");
    }
  }

  function show(result, reveal) {
    heading.textContent = current.q ? `Results for “${current.q}”` : "All titles";
    correction.hidden = !result.corrected_query;
    if (result.corrected_query) {
      render(
        correction,
        "Did you mean ",
        h(
          "a",
          {
            href: "#",
            class: "corrected",
            onclick: (event) => {
              event.preventDefault();
              input.value = result.corrected_query;
              current = { ...current, q: result.corrected_query, page: 1 };
              void run({ reveal: true });
            },
          },
          result.corrected_query,
        ),
        "? Showing results for it.",
      );
    }
    const pages = Math.max(1, Math.ceil(result.total / result.page_size));
    summary.textContent =
      result.total === 0
        ? "No titles match. Try fewer words or other filters."
        : `${result.total.toLocaleString()} title${result.total === 1 ? "" : "s"} · page ${result.page} of ${pages}`;
    render(
      list,
      result.results.map((item) => h("li", {}, titleCard(item.id, { layout: "wide" }))),
    );
    renderFacets(result.facets);
    renderPager(result.page, pages);
    if (reveal) {
      heading.focus({ preventScroll: true });
      section.scrollIntoView({ block: "start", behavior: "smooth" });
    }
  }

  function renderFacets(facets) {
    if (!facets) {
      render(facetsBox);
      return;
    }
    const group = (name, legend, values) => {
      const chosen = current[name];
      // Chosen values stay visible even when the filtered counts push them out of the top.
      const shown = values.slice(0, FACETS_SHOWN);
      for (const value of chosen) if (!shown.some((v) => v.value === value)) shown.push({ value, count: 0 });
      if (shown.length === 0) return null;
      return h(
        "fieldset",
        { class: "facet" },
        h("legend", {}, legend),
        shown.map((v) =>
          h(
            "label",
            { class: "facet-option" },
            h("input", {
              type: "checkbox",
              name,
              value: v.value,
              checked: chosen.includes(v.value),
              onchange: (event) => {
                const next = event.target.checked ? [...chosen, v.value] : chosen.filter((value) => value !== v.value);
                current = { ...current, [name]: next, page: 1 };
                void run();
              },
            }),
            h("span", { class: "facet-value" }, v.value),
            h("span", { class: "facet-count" }, String(v.count), h("span", { class: "visually-hidden" }, " titles")),
          ),
        ),
      );
    };
    const ratings = ["", "5", "6", "7", "8"];
    const chosen =
      current.genre.length +
      current.platform.length +
      (current.rating_min ? 1 : 0) +
      (current.year_min ? 1 : 0) +
      (current.year_max ? 1 : 0);
    render(
      facetsBox,
      h(
        "details",
        {
          class: "facets-details",
          open: filtersOpen ?? !matchMedia("(max-width: 700px)").matches,
          ontoggle: (event) => {
            filtersOpen = event.target.open;
          },
        },
        h("summary", { class: "facets-title" }, chosen > 0 ? `Filters (${chosen})` : "Filters"),
        group("genre", "Genre", facets.genres ?? []),
        group("platform", "Platform", facets.platforms ?? []),
        h(
          "fieldset",
          { class: "facet" },
          h("legend", {}, "Rating"),
          h(
            "label",
            { class: "facet-select" },
            "At least ",
            h(
              "select",
              {
                name: "rating_min",
                onchange: (event) => {
                  current = { ...current, rating_min: event.target.value, page: 1 };
                  void run();
                },
              },
              ratings.map((r) =>
                h("option", { value: r, selected: String(current.rating_min) === r }, r ? `${r} ★` : "any"),
              ),
            ),
          ),
          facets.rating_range?.min != null
            ? h("p", { class: "hint" }, `Matches range from ${facets.rating_range.min} to ${facets.rating_range.max}.`)
            : null,
        ),
        facets.year_range?.min != null
          ? h(
              "fieldset",
              { class: "facet" },
              h("legend", {}, "Year"),
              yearInput("year_min", "From", facets.year_range.min),
              yearInput("year_max", "To", facets.year_range.max),
            )
          : null,
        current.genre.length + current.platform.length > 0 || current.rating_min || current.year_min || current.year_max
          ? h(
              "button",
              {
                type: "button",
                class: "link-button",
                onclick: () => {
                  current = {
                    ...current,
                    genre: [],
                    platform: [],
                    rating_min: "",
                    year_min: "",
                    year_max: "",
                    page: 1,
                  };
                  void run();
                },
              },
              "Clear filters",
            )
          : null,
      ),
    );
  }

  function yearInput(name, label, placeholder) {
    return h(
      "label",
      { class: "facet-year" },
      h("span", {}, label),
      h("input", {
        type: "number",
        name,
        inputmode: "numeric",
        min: "1800",
        max: "2200",
        placeholder: String(placeholder),
        value: current[name],
        onchange: (event) => {
          current = { ...current, [name]: event.target.value, page: 1 };
          void run();
        },
      }),
    );
  }

  function renderPager(page, pages) {
    if (pages <= 1) {
      render(pager);
      return;
    }
    const go = (to) => () => {
      current = { ...current, page: to };
      void run({ reveal: true });
    };
    render(
      pager,
      h("button", { type: "button", disabled: page <= 1, onclick: go(page - 1) }, "← Previous"),
      h("span", { class: "pager-info" }, `Page ${page} of ${pages}`),
      h("button", { type: "button", disabled: page >= pages, onclick: go(page + 1) }, "Next →"),
    );
  }

  return {
    focus: () => input.focus(),
  };
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client } from "./helpers";
import { adminApi, reindex, removeItems, testItem, uniqueWord } from "./search-support";

const anonymous = client(null);
const added: string[] = [];

beforeAll(async () => {
  await reindex();
});
afterAll(async () => {
  await removeItems(added);
});

interface Page {
  results: { id: string }[];
  total: number;
  page: number;
  next_cursor: string | null;
}

async function everyPageByCursor(query: string, between?: (pageNumber: number) => Promise<void>) {
  const ids: string[] = [];
  let res = await anonymous.get(`/api/v1/search?${query}`);
  expect(res.status).toBe(200);
  const total = (res.json as Page).total;
  for (let n = 1; ; n++) {
    const page = res.json as Page;
    ids.push(...page.results.map((r) => r.id));
    if (page.next_cursor === null) break;
    await between?.(n);
    res = await anonymous.get(`/api/v1/search?${query}&cursor=${page.next_cursor}`);
    expect(res.status).toBe(200);
    expect(res.json.page).toBe(n + 1);
  }
  return { ids, total };
}

describe("paging through a broad query", () => {
  it("by cursor yields each result exactly once, in the same order as page numbers", async () => {
    const { ids, total } = await everyPageByCursor("q=the&page_size=100");
    expect(total).toBeGreaterThan(500);
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
    const byNumber: string[] = [];
    for (let page = 1; (page - 1) * 100 < total; page++) {
      const res = await anonymous.get(`/api/v1/search?q=the&page_size=100&page=${page}&include_facets=false`);
      expect(res.json.total).toBe(total);
      byNumber.push(...res.json.results.map((r: { id: string }) => r.id));
    }
    expect(byNumber).toEqual(ids);
  });

  it("stays on its index version when a reindex lands between pages: no duplicates, no gaps", async () => {
    const word = uniqueWord();
    const item = testItem(`The ${word}`);
    added.push(item.id);
    const before = await everyPageByCursor("q=the&page_size=100");
    const during = await everyPageByCursor("q=the&page_size=100", async (pageNumber) => {
      if (pageNumber !== 2) return;
      // A new title containing "the" lands in a new index version mid-way.
      const admin = await adminApi();
      const imported = await admin.post("/api/v1/admin/catalog", { items: [item], reindex: true });
      expect(imported.status).toBe(200);
      expect(imported.json.reindex.changed).toBe(true);
    });
    expect(during.ids).toEqual(before.ids);
    // A new search sees the new version.
    const after = await anonymous.get("/api/v1/search?q=the&page_size=1");
    expect(after.json.total).toBe(before.total + 1);
    expect((await anonymous.get(`/api/v1/search?q=${word}`)).json.results[0].id).toBe(item.id);
  });

  it("refuses a cursor with another query, and reports the last page with a null cursor", async () => {
    const first = await anonymous.get("/api/v1/search?q=matrix&page_size=2");
    expect(first.json.total).toBe(3);
    const other = await anonymous.get(`/api/v1/search?q=godfather&page_size=2&cursor=${first.json.next_cursor}`);
    expect(other.status).toBe(400);
    expect(other.headers.get("content-type")).toContain("application/problem+json");
    const last = await anonymous.get(`/api/v1/search?q=matrix&page_size=2&cursor=${first.json.next_cursor}`);
    expect(last.json.results).toHaveLength(1);
    expect(last.json.next_cursor).toBeNull();
  });

  it("keeps a personalized cursor to its user", async () => {
    const { tokenFor } = await import("./helpers");
    const mine = client(await tokenFor(`pager-${crypto.randomUUID()}`));
    const first = await mine.get("/api/v1/search?q=the&page_size=10");
    const stolen = await anonymous.get(`/api/v1/search?q=the&page_size=10&cursor=${first.json.next_cursor}`);
    expect(stolen.status).toBe(400);
    expect((await mine.get(`/api/v1/search?q=the&page_size=10&cursor=${first.json.next_cursor}`)).status).toBe(200);
  });

  it("returns an empty page past the end, with the exact total", async () => {
    const res = await anonymous.get("/api/v1/search?q=matrix&page=5&page_size=10");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ results: [], total: 3, page: 5, next_cursor: null });
  });
});

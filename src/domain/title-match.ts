/**
 * Matching a title and year from another service's export against the catalog: case, accents,
 * punctuation and a trailing article ("Matrix, The") do not matter; among several titles of one
 * name and year, the most voted wins.
 */

/** The form two titles are compared in. */
export function titleKey(title: string): string {
  const folded = title
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .trim();
  // "Matrix, The" (how some catalogs sort titles) is "The Matrix".
  const moved = folded.replace(/^(.*),\s*(the|a|an|la|le|les|el|il|der|die|das)$/u, "$2 $1");
  return moved.replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

export interface CatalogTitle {
  id: string;
  title: string;
  year: number;
  votes: number;
}

/** title key + year → the matching catalog id. */
export class TitleMatcher {
  private readonly byKey = new Map<string, CatalogTitle>();

  constructor(titles: Iterable<CatalogTitle>) {
    for (const t of titles) {
      const key = `${titleKey(t.title)}\u0000${t.year}`;
      const seen = this.byKey.get(key);
      if (!seen || t.votes > seen.votes || (t.votes === seen.votes && t.id < seen.id)) this.byKey.set(key, t);
    }
  }

  match(title: string, year: number): string | null {
    return this.byKey.get(`${titleKey(title)}\u0000${year}`)?.id ?? null;
  }
}

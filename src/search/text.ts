/** Text normalization shared by the index build and every query, so both see the same words. */

/** Lower case, accents folded ("Amélie" → "amelie"), apostrophes removed ("ocean's" → "oceans"). */
export function normalizeText(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/['’`]/g, "")
    .replace(/&/g, " and ");
}

/** The words of a text, in order: runs of letters and digits of any script. */
export function tokenize(text: string): string[] {
  const words = normalizeText(text).split(/[^\p{L}\p{N}]+/u);
  return words.filter((w) => w.length > 0);
}

/**
 * Words indexed for a title beyond its own tokens: the stem before an apostrophe, so that
 * "schindler" finds "Schindler's List" as well as "schindlers" does.
 */
export function aliasWords(text: string): string[] {
  const aliases: string[] = [];
  const folded = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase();
  for (const match of folded.matchAll(/([\p{L}\p{N}]+)['’`][\p{L}]{1,2}\b/gu)) aliases.push(match[1] as string);
  return aliases;
}

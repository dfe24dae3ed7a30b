/** Text normalization shared by the index build and every query, so both see the same words. */

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Lower case, accents folded ("Amélie" → "amelie"), apostrophes removed ("ocean's" → "oceans"). */
export function normalizeText(text: string): string {
  // Most titles are plain ASCII: no accents to fold.
  const folded = PRINTABLE_ASCII.test(text) ? text : text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  return folded.toLowerCase().replace(/['’`]/g, "").replace(/&/g, " and ");
}

/** The words of a text, in order: runs of letters and digits of any script. */
export function tokenize(text: string): string[] {
  const normalized = normalizeText(text);
  const words = normalized.split(PRINTABLE_ASCII.test(normalized) ? /[^a-z0-9]+/ : /[^\p{L}\p{N}]+/u);
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

/** Opaque pagination cursors: base64url JSON that the server alone reads back. */
export function encodeCursor(value: Record<string, string | number>): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Returns null for anything that is not a cursor this server made in the given shape. */
export function decodeCursor<T extends Record<string, "string" | "number">>(
  text: string,
  shape: T,
): { [K in keyof T]: T[K] extends "string" ? string : number } | null {
  if (text.length > 512 || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    const record = value as Record<string, unknown>;
    for (const [key, type] of Object.entries(shape)) {
      if (typeof record[key] !== type) return null;
      if (type === "number" && !Number.isFinite(record[key])) return null;
    }
    return record as never;
  } catch {
    return null;
  }
}

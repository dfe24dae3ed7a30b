/**
 * The index as bytes: a small JSON header, then typed-array sections read back as views over
 * the same buffer (no parsing per posting). Stored gzipped in KV under its content hash.
 */
import type { IndexData } from "./search-index";

const MAGIC = "MGSEARCH";
/** 2 added the maturity column; a snapshot of format 1 is rebuilt from the catalog. */
const FORMAT = 2;

type NumericSection =
  | "kinds"
  | "years"
  | "ratings"
  | "maturity"
  | "votes"
  | "plays"
  | "tokenCounts"
  | "genreOffsets"
  | "genreValues"
  | "platformOffsets"
  | "platformValues"
  | "postingOffsets"
  | "postingDocs"
  | "postingPositions";
type TextSection = "ids" | "titles" | "terms";

const NUMERIC: Record<NumericSection, "u8" | "u16" | "u32"> = {
  kinds: "u8",
  years: "u16",
  ratings: "u16",
  maturity: "u8",
  votes: "u32",
  plays: "u32",
  tokenCounts: "u8",
  genreOffsets: "u32",
  genreValues: "u16",
  platformOffsets: "u32",
  platformValues: "u16",
  postingOffsets: "u32",
  postingDocs: "u32",
  postingPositions: "u8",
};
const TEXT: TextSection[] = ["ids", "titles", "terms"];

interface Header {
  format: number;
  playWeight: number;
  genreNames: string[];
  platformNames: string[];
  corrections: Record<string, string>;
  /** name → [byte offset from the start of the snapshot, element count, byte length] */
  sections: Record<string, [number, number, number]>;
}

export class SnapshotError extends Error {
  override name = "SnapshotError";
  /** True for a snapshot an older release wrote: rebuild it rather than fail. */
  constructor(
    message: string,
    readonly outdated = false,
  ) {
    super(message);
  }
}

const align = (n: number) => (n + 7) & ~7;

export function encodeSnapshot(data: IndexData): Uint8Array {
  const encoder = new TextEncoder();
  const parts: { name: string; bytes: Uint8Array; count: number }[] = [];
  for (const name of Object.keys(NUMERIC) as NumericSection[]) {
    const array = data[name];
    parts.push({ name, bytes: new Uint8Array(array.buffer, array.byteOffset, array.byteLength), count: array.length });
  }
  for (const name of TEXT) {
    // Ids, titles and words never contain a newline (titles are cleaned at build time).
    const bytes = encoder.encode(data[name].join("\n"));
    parts.push({ name, bytes, count: data[name].length });
  }
  const sections: Header["sections"] = {};
  const header: Header = {
    format: FORMAT,
    playWeight: data.playWeight,
    genreNames: data.genreNames,
    platformNames: data.platformNames,
    corrections: data.corrections,
    sections,
  };
  // The header records offsets, which depend on the header's own length: settle it in two passes.
  let headerBytes = encoder.encode(JSON.stringify(header));
  for (let pass = 0; pass < 3; pass++) {
    let offset = align(MAGIC.length + 4 + headerBytes.length);
    for (const part of parts) {
      sections[part.name] = [offset, part.count, part.bytes.length];
      offset = align(offset + part.bytes.length);
    }
    const next = encoder.encode(JSON.stringify(header).padEnd(headerBytes.length, " "));
    if (next.length === headerBytes.length) {
      headerBytes = next;
      break;
    }
    headerBytes = next;
  }
  const lastPart = parts[parts.length - 1]!;
  const total = (sections[lastPart.name] as [number, number, number])[0] + lastPart.bytes.length;
  const out = new Uint8Array(total);
  out.set(encoder.encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, headerBytes.length, true);
  out.set(headerBytes, MAGIC.length + 4);
  for (const part of parts) out.set(part.bytes, (sections[part.name] as [number, number, number])[0]);
  return out;
}

export function decodeSnapshot(input: Uint8Array): IndexData {
  // Typed-array views need aligned offsets: work on a buffer that starts at the snapshot.
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const decoder = new TextDecoder();
  if (bytes.length < MAGIC.length + 4 || decoder.decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new SnapshotError("not a search snapshot");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + headerLength > bytes.length) throw new SnapshotError("snapshot header runs past its end");
  let header: Header;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLength))) as Header;
  } catch {
    throw new SnapshotError("snapshot header is not JSON");
  }
  if (header.format !== FORMAT) {
    throw new SnapshotError(`snapshot format ${header.format} is not ${FORMAT}`, header.format < FORMAT);
  }
  const section = (name: string) => {
    const entry = header.sections[name];
    if (!entry) throw new SnapshotError(`snapshot has no ${name}`);
    return entry;
  };
  const numeric = <T>(name: NumericSection, make: (buffer: ArrayBufferLike, offset: number, count: number) => T): T => {
    const [offset, count, length] = section(name);
    if (offset + length > bytes.length) throw new SnapshotError(`snapshot ${name} runs past its end`);
    return make(bytes.buffer, bytes.byteOffset + offset, count);
  };
  const text = (name: TextSection): string[] => {
    const [offset, count, length] = section(name);
    if (count === 0) return [];
    const list = decoder.decode(bytes.subarray(offset, offset + length)).split("\n");
    if (list.length !== count) throw new SnapshotError(`snapshot ${name} holds ${list.length} entries, not ${count}`);
    return list;
  };
  const u8 = (b: ArrayBufferLike, o: number, c: number) => new Uint8Array(b, o, c);
  const u16 = (b: ArrayBufferLike, o: number, c: number) => new Uint16Array(b, o, c);
  const u32 = (b: ArrayBufferLike, o: number, c: number) => new Uint32Array(b, o, c);
  return {
    ids: text("ids"),
    titles: text("titles"),
    terms: text("terms"),
    kinds: numeric("kinds", u8),
    years: numeric("years", u16),
    ratings: numeric("ratings", u16),
    maturity: numeric("maturity", u8),
    votes: numeric("votes", u32),
    plays: numeric("plays", u32),
    tokenCounts: numeric("tokenCounts", u8),
    genreNames: header.genreNames,
    genreOffsets: numeric("genreOffsets", u32),
    genreValues: numeric("genreValues", u16),
    platformNames: header.platformNames,
    platformOffsets: numeric("platformOffsets", u32),
    platformValues: numeric("platformValues", u16),
    postingOffsets: numeric("postingOffsets", u32),
    postingDocs: numeric("postingDocs", u32),
    postingPositions: numeric("postingPositions", u8),
    corrections: header.corrections,
    playWeight: header.playWeight,
  };
}

async function pipe(bytes: Uint8Array, transform: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const body = new Response(bytes as Uint8Array<ArrayBuffer>).body as ReadableStream<Uint8Array>;
  // The Workers and DOM typings disagree on the streams' chunk types; both carry bytes.
  const stream = body.pipeThrough(transform as unknown as TransformStream<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export const gzip = (bytes: Uint8Array) => pipe(bytes, new CompressionStream("gzip"));
export const gunzip = (bytes: Uint8Array) => pipe(bytes, new DecompressionStream("gzip"));

/** A snapshot's version: the first 16 hex digits of its SHA-256, so equal catalogs share it. */
export async function snapshotVersion(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

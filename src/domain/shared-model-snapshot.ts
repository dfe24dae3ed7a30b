/**
 * The shared model as bytes, for Workers KV: a small JSON header, then typed-array sections read
 * back as views over the same buffer. Weights are quantized to one signed byte per neighbour with
 * one float scale per title (the largest weight of a row is ±127), neighbour ids are 16-bit while
 * the model has at most 65,536 titles. One CRC-32 over the header and one over the sections catch
 * a truncated or corrupted value; a snapshot that does not check out is refused, never half-read.
 *
 * Layout: "MGRECMDL", u32 header length, u32 CRC-32 of the header, the header (JSON, padded),
 * then each section at an 8-byte aligned offset the header gives.
 *
 * A KV value holds at most 25 MiB: `splitSnapshot` cuts a large snapshot into chunks, each with
 * its own length and CRC-32, listed in a small manifest; `joinSnapshot` checks and reassembles.
 */
import type { NeighbourModel } from "./item-neighbours";
import type { SharedModel, SharedModelInfo } from "./shared-model";

const MAGIC = "MGRECMDL";
const FORMAT = 1;
/** Magic, header length, header CRC-32. */
const PREFIX = MAGIC.length + 8;

type Section = "popularity" | "offsets" | "neighbours" | "scales" | "weights" | "ids";
const SECTIONS: Section[] = ["popularity", "offsets", "neighbours", "scales", "weights", "ids"];

interface Header {
  format: number;
  info: SharedModelInfo;
  items: number;
  /** Bytes per neighbour id: 2 or 4. */
  idBytes: 2 | 4;
  /** name → [byte offset from the start of the snapshot, element count, byte length] */
  sections: Record<string, [number, number, number]>;
  /** CRC-32 of the bytes from the first section to the end. */
  crc32: number;
}

export class ModelSnapshotError extends Error {
  override name = "ModelSnapshotError";
}

const align = (n: number) => (n + 7) & ~7;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib computes it). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One signed byte per weight, scaled per row so that the row's largest magnitude is 127. */
function quantize(model: NeighbourModel): { scales: Float32Array; weights: Int8Array } {
  const scales = new Float32Array(model.items);
  const weights = new Int8Array(model.weights.length);
  for (let i = 0; i < model.items; i++) {
    let max = 0;
    for (let a = model.offsets[i]!; a < model.offsets[i + 1]!; a++) max = Math.max(max, Math.abs(model.weights[a]!));
    const scale = max / 127;
    scales[i] = scale;
    if (scale === 0) continue;
    const step = scales[i]!;
    for (let a = model.offsets[i]!; a < model.offsets[i + 1]!; a++) {
      weights[a] = Math.max(-127, Math.min(127, Math.round(model.weights[a]! / step)));
    }
  }
  return { scales, weights };
}

const bytesOf = (array: ArrayBufferView) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

export function encodeModelSnapshot(model: SharedModel): Uint8Array {
  const { neighbours } = model;
  const items = model.ids.length;
  if (neighbours.items !== items || model.popularity.length !== items) {
    throw new ModelSnapshotError("the model's ids, popularity and neighbours disagree on the number of titles");
  }
  for (const id of model.ids)
    if (id.includes("\n")) throw new ModelSnapshotError(`content id ${JSON.stringify(id)} has a newline`);
  const idBytes = items <= 0x10000 ? 2 : 4;
  const { scales, weights } = quantize(neighbours);
  const ids = idBytes === 2 ? Uint16Array.from(neighbours.neighbours) : Uint32Array.from(neighbours.neighbours);
  const parts: Record<Section, { bytes: Uint8Array; count: number }> = {
    popularity: { bytes: bytesOf(model.popularity), count: items },
    offsets: { bytes: bytesOf(neighbours.offsets), count: items + 1 },
    neighbours: { bytes: bytesOf(ids), count: ids.length },
    scales: { bytes: bytesOf(scales), count: items },
    weights: { bytes: bytesOf(weights), count: weights.length },
    ids: { bytes: new TextEncoder().encode(model.ids.join("\n")), count: items },
  };
  const encoder = new TextEncoder();
  const header: Header = { format: FORMAT, info: model.info, items, idBytes, sections: {}, crc32: 0 };
  // Offsets depend on the header's length and the header holds them: settle it (the CRC is padded to full width).
  let headerLength = 0;
  for (let pass = 0; pass < 4; pass++) {
    let offset = align(PREFIX + headerLength);
    for (const name of SECTIONS) {
      header.sections[name] = [offset, parts[name].count, parts[name].bytes.length];
      offset = align(offset + parts[name].bytes.length);
    }
    header.crc32 = 0xffffffff;
    const length = encoder.encode(JSON.stringify(header)).length;
    if (length <= headerLength) break;
    headerLength = length;
  }
  const body = header.sections[SECTIONS[0]!]![0];
  const last = header.sections[SECTIONS[SECTIONS.length - 1]!]!;
  const out = new Uint8Array(last[0] + last[2]);
  for (const name of SECTIONS) out.set(parts[name].bytes, header.sections[name]![0]);
  header.crc32 = crc32(out.subarray(body));
  const headerBytes = encoder.encode(JSON.stringify(header).padEnd(headerLength, " "));
  if (headerBytes.length !== headerLength) throw new ModelSnapshotError("the snapshot header did not settle");
  out.set(encoder.encode(MAGIC), 0);
  const prefix = new DataView(out.buffer);
  prefix.setUint32(MAGIC.length, headerLength, true);
  prefix.setUint32(MAGIC.length + 4, crc32(headerBytes), true);
  out.set(headerBytes, PREFIX);
  return out;
}

export function decodeModelSnapshot(input: Uint8Array): SharedModel {
  // Typed-array views need aligned offsets: work on a buffer that starts at the snapshot.
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const decoder = new TextDecoder();
  if (bytes.length < PREFIX || decoder.decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new ModelSnapshotError("not a recommendation model snapshot");
  }
  const prefix = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = prefix.getUint32(MAGIC.length, true);
  if (PREFIX + headerLength > bytes.length) throw new ModelSnapshotError("snapshot header runs past its end");
  const headerBytes = bytes.subarray(PREFIX, PREFIX + headerLength);
  if (crc32(headerBytes) !== prefix.getUint32(MAGIC.length + 4, true)) {
    throw new ModelSnapshotError("snapshot header checksum does not match");
  }
  let header: Header;
  try {
    header = JSON.parse(decoder.decode(headerBytes)) as Header;
  } catch {
    throw new ModelSnapshotError("snapshot header is not JSON");
  }
  if (header.format !== FORMAT) throw new ModelSnapshotError(`snapshot format ${header.format} is not ${FORMAT}`);
  const section = (name: Section) => {
    const entry = header.sections?.[name];
    if (!entry) throw new ModelSnapshotError(`snapshot has no ${name}`);
    const [offset, , length] = entry;
    if (offset % 8 !== 0 || offset < PREFIX + headerLength || offset + length > bytes.length) {
      throw new ModelSnapshotError(`snapshot ${name} is out of bounds`);
    }
    return entry;
  };
  const body = section("popularity")[0];
  if (crc32(bytes.subarray(body)) !== header.crc32) throw new ModelSnapshotError("snapshot checksum does not match");
  const items = header.items;
  const view = <T>(name: Section, width: number, make: (b: ArrayBufferLike, o: number, c: number) => T): T => {
    const [offset, count, length] = section(name);
    if (count * width !== length)
      throw new ModelSnapshotError(`snapshot ${name} has ${length} bytes for ${count} values`);
    return make(bytes.buffer, bytes.byteOffset + offset, count);
  };
  const popularity = view("popularity", 4, (b, o, c) => new Float32Array(b, o, c));
  const offsets = view("offsets", 4, (b, o, c) => new Uint32Array(b, o, c));
  const neighbourIds =
    header.idBytes === 2
      ? view("neighbours", 2, (b, o, c) => new Uint16Array(b, o, c))
      : view("neighbours", 4, (b, o, c) => new Uint32Array(b, o, c));
  const scales = view("scales", 4, (b, o, c) => new Float32Array(b, o, c));
  const quantized = view("weights", 1, (b, o, c) => new Int8Array(b, o, c));
  const [idsOffset, idsCount, idsLength] = section("ids");
  const ids = idsCount === 0 ? [] : decoder.decode(bytes.subarray(idsOffset, idsOffset + idsLength)).split("\n");
  if (ids.length !== items || popularity.length !== items || scales.length !== items || offsets.length !== items + 1) {
    throw new ModelSnapshotError(`snapshot sections disagree on the number of titles (${items})`);
  }
  if (offsets[0] !== 0 || offsets[items] !== neighbourIds.length || quantized.length !== neighbourIds.length) {
    throw new ModelSnapshotError("snapshot neighbour lists do not add up");
  }
  const weights = new Float32Array(quantized.length);
  for (let i = 0; i < items; i++) {
    const from = offsets[i]!;
    const to = offsets[i + 1]!;
    if (to < from) throw new ModelSnapshotError(`snapshot neighbour list ${i} ends before it starts`);
    const scale = scales[i]!;
    for (let a = from; a < to; a++) weights[a] = quantized[a]! * scale;
  }
  const neighbours = Uint32Array.from(neighbourIds);
  for (let i = 0; i < items; i++) {
    for (let a = offsets[i]!; a < offsets[i + 1]!; a++) {
      if (neighbours[a]! >= items) throw new ModelSnapshotError(`snapshot neighbour ${neighbours[a]} is not a title`);
      if (a > offsets[i]! && neighbours[a]! <= neighbours[a - 1]!) {
        throw new ModelSnapshotError(`snapshot neighbour list ${i} is not in ascending order`);
      }
    }
  }
  return { ids, popularity, neighbours: { items, offsets, neighbours, weights }, info: header.info };
}

/** The snapshot's version: the first 16 hex digits of its SHA-256, so equal models share it. */
export async function modelSnapshotVersion(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What a reader fetches first: which chunks make the snapshot, each with its length and CRC-32. */
export interface SnapshotManifest {
  format: number;
  version: string;
  bytes: number;
  chunks: { bytes: number; crc32: number }[];
}

/** KV's value limit is 25 MiB; a chunk stays well under it. */
export const MAX_CHUNK_BYTES = 20 * 1024 * 1024;

export async function splitSnapshot(
  snapshot: Uint8Array,
  maxChunkBytes = MAX_CHUNK_BYTES,
): Promise<{ manifest: SnapshotManifest; chunks: Uint8Array[] }> {
  if (!(maxChunkBytes >= 1)) throw new RangeError("a chunk holds at least one byte");
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < snapshot.length; at += maxChunkBytes) chunks.push(snapshot.subarray(at, at + maxChunkBytes));
  return {
    manifest: {
      format: FORMAT,
      version: await modelSnapshotVersion(snapshot),
      bytes: snapshot.length,
      chunks: chunks.map((c) => ({ bytes: c.length, crc32: crc32(c) })),
    },
    chunks,
  };
}

/** The snapshot from its chunks, in manifest order; throws ModelSnapshotError on a missing, short or corrupted chunk. */
export function joinSnapshot(
  manifest: SnapshotManifest,
  chunks: readonly (Uint8Array | null | undefined)[],
): Uint8Array {
  if (manifest.format !== FORMAT) throw new ModelSnapshotError(`manifest format ${manifest.format} is not ${FORMAT}`);
  if (chunks.length !== manifest.chunks.length) {
    throw new ModelSnapshotError(`manifest lists ${manifest.chunks.length} chunks, ${chunks.length} were read`);
  }
  const out = new Uint8Array(manifest.bytes);
  let at = 0;
  manifest.chunks.forEach((expected, i) => {
    const chunk = chunks[i];
    if (!chunk) throw new ModelSnapshotError(`chunk ${i} is missing`);
    if (chunk.length !== expected.bytes || crc32(chunk) !== expected.crc32) {
      throw new ModelSnapshotError(`chunk ${i} is not the one the manifest lists`);
    }
    if (at + chunk.length > out.length) throw new ModelSnapshotError("chunks are longer than the manifest says");
    out.set(chunk, at);
    at += chunk.length;
  });
  if (at !== out.length) throw new ModelSnapshotError("chunks are shorter than the manifest says");
  return out;
}

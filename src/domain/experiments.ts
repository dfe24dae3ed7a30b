/**
 * Variant assignment for A/B experiments, pure: a user's bucket is a hash of (experiment id,
 * user id) into 10,000 buckets, and each variant owns ranges of buckets sized by its weight.
 * No storage is needed to assign: every edge computes the same answer from the definition.
 */

export const BUCKETS = 10_000;

export interface VariantWeight {
  name: string;
  weight: number;
}

/** Half-open range of buckets [start, end). */
export interface BucketRange {
  start: number;
  end: number;
}

/** Which buckets each variant owns; together the ranges cover [0, BUCKETS) exactly once. */
export type Allocation = Record<string, BucketRange[]>;

// ---- hashing ----

const encoder = new TextEncoder();
/** Reused for every hash: ids are at most a few hundred bytes, so no allocation per call. */
let scratch = new Uint8Array(2048);

/** MurmurHash3 (x86, 32-bit) of bytes[0, length): fast, well mixed, the same on every runtime. */
export function murmur3(bytes: Uint8Array, length: number, seed = 0): number {
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16);
    k |= (bytes[i + 3] as number) << 24;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (length & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: the tail bytes fall through by design
    case 3:
      k ^= (bytes[blocks + 2] as number) << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: the tail bytes fall through by design
    case 2:
      k ^= (bytes[blocks + 1] as number) << 8;
    case 1:
      k ^= bytes[blocks] as number;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The user's bucket in [0, BUCKETS) for one experiment: the hash of the UTF-8 bytes of
 * `${experimentId}\0${userId}` (experiment ids never contain NUL, so the pair is unambiguous).
 */
export function bucketOf(experimentId: string, userId: string): number {
  const key = `${experimentId}\u0000${userId}`;
  if (key.length * 3 > scratch.length) scratch = new Uint8Array(key.length * 3);
  const { written } = encoder.encodeInto(key, scratch);
  return Math.floor((murmur3(scratch, written) * BUCKETS) / 0x1_0000_0000);
}

// ---- allocation ----

/** Buckets per variant: shares of BUCKETS by weight, rounded by largest remainder so they sum exactly. */
export function targetCounts(weights: readonly number[]): number[] {
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (!(total > 0)) throw new RangeError("the weights must add up to more than 0");
  const exact = weights.map((w) => (w / total) * BUCKETS);
  const counts = exact.map(Math.floor);
  let left = BUCKETS - counts.reduce((sum, n) => sum + n, 0);
  const byRemainder = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left === 0) break;
    counts[i] = (counts[i] as number) + 1;
    left--;
  }
  return counts;
}

function merge(ranges: BucketRange[]): BucketRange[] {
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const out: BucketRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.end >= r.start) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Takes `count` buckets from the front of `ranges`; returns what was taken and what is left. */
function takeFront(ranges: BucketRange[], count: number): { taken: BucketRange[]; rest: BucketRange[] } {
  const taken: BucketRange[] = [];
  const rest: BucketRange[] = [];
  let need = count;
  for (const r of ranges) {
    const size = r.end - r.start;
    if (need >= size) {
      taken.push({ ...r });
      need -= size;
    } else if (need > 0) {
      taken.push({ start: r.start, end: r.start + need });
      rest.push({ start: r.start + need, end: r.end });
      need = 0;
    } else {
      rest.push({ ...r });
    }
  }
  return { taken, rest };
}

/** True when the ranges of the named variants cover [0, BUCKETS) exactly once. */
export function isValidAllocation(allocation: Allocation, names: readonly string[]): boolean {
  const all: BucketRange[] = [];
  for (const name of names) {
    const ranges = allocation[name];
    if (!Array.isArray(ranges)) return false;
    for (const r of ranges) {
      if (!Number.isInteger(r?.start) || !Number.isInteger(r?.end) || r.start < 0 || r.end > BUCKETS) return false;
      if (r.end < r.start) return false;
      all.push(r);
    }
  }
  all.sort((a, b) => a.start - b.start);
  let at = 0;
  for (const r of all) {
    if (r.end === r.start) continue;
    if (r.start !== at) return false;
    at = r.end;
  }
  return at === BUCKETS;
}

/**
 * Splits the buckets by weight. Without a previous allocation, each variant gets one contiguous
 * range in order. With one, every variant keeps as many of its old buckets as its new share
 * allows and only the surplus moves, so a weight change reassigns the fewest users possible:
 * exactly half the L1 distance between the old and new bucket counts (50/50 → 60/40 moves 10 %).
 */
export function allocate(variants: readonly VariantWeight[], previous: Allocation | null = null): Allocation {
  const names = variants.map((v) => v.name);
  if (new Set(names).size !== names.length) throw new RangeError("variant names must be unique");
  const counts = targetCounts(variants.map((v) => v.weight));
  const result: Allocation = {};
  const oldNames = previous ? Object.keys(previous) : [];
  if (!previous || !isValidAllocation(previous, oldNames)) {
    let start = 0;
    variants.forEach((v, i) => {
      const end = start + (counts[i] as number);
      result[v.name] = end > start ? [{ start, end }] : [];
      start = end;
    });
    return result;
  }
  let free: BucketRange[] = [];
  for (const name of oldNames) if (!names.includes(name)) free.push(...(previous[name] as BucketRange[]));
  variants.forEach((v, i) => {
    const { taken, rest } = takeFront(merge(previous[v.name] ?? []), counts[i] as number);
    result[v.name] = taken;
    free.push(...rest);
  });
  free = merge(free);
  variants.forEach((v, i) => {
    const kept = (result[v.name] as BucketRange[]).reduce((n, r) => n + r.end - r.start, 0);
    const { taken, rest } = takeFront(free, (counts[i] as number) - kept);
    result[v.name] = merge([...(result[v.name] as BucketRange[]), ...taken]);
    free = rest;
  });
  return result;
}

/** An allocation prepared for lookups: range starts in order, each with its variant. */
export interface CompiledAllocation {
  starts: Int32Array;
  variants: string[];
}

export function compileAllocation(allocation: Allocation): CompiledAllocation {
  const ranges: { start: number; variant: string }[] = [];
  for (const [variant, owned] of Object.entries(allocation)) {
    for (const r of owned) if (r.end > r.start) ranges.push({ start: r.start, variant });
  }
  ranges.sort((a, b) => a.start - b.start);
  return { starts: Int32Array.from(ranges, (r) => r.start), variants: ranges.map((r) => r.variant) };
}

/** The variant owning `bucket`: binary search for the last range starting at or before it. */
export function variantForBucket(compiled: CompiledAllocation, bucket: number): string {
  const { starts } = compiled;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= bucket) lo = mid;
    else hi = mid - 1;
  }
  return compiled.variants[lo] as string;
}

export function assignVariant(compiled: CompiledAllocation, experimentId: string, userId: string) {
  const bucket = bucketOf(experimentId, userId);
  return { bucket, variant: variantForBucket(compiled, bucket) };
}

/** Buckets per variant in an allocation. */
export function bucketCounts(allocation: Allocation): Record<string, number> {
  return Object.fromEntries(
    Object.entries(allocation).map(([name, ranges]) => [name, ranges.reduce((n, r) => n + r.end - r.start, 0)]),
  );
}

/** Share of all buckets whose variant differs between two allocations. */
export function reassignedShare(before: Allocation, after: Allocation): number {
  const a = compileAllocation(before);
  const b = compileAllocation(after);
  let moved = 0;
  for (let bucket = 0; bucket < BUCKETS; bucket++) {
    if (variantForBucket(a, bucket) !== variantForBucket(b, bucket)) moved++;
  }
  return moved / BUCKETS;
}

import { describe, expect, it } from "vitest";
import type { SharedModel } from "../../src/domain/shared-model";
import { buildSharedModel } from "../../src/domain/shared-model";
import {
  crc32,
  decodeModelSnapshot,
  encodeModelSnapshot,
  joinSnapshot,
  ModelSnapshotError,
  splitSnapshot,
} from "../../src/domain/shared-model-snapshot";

/** Three groups of users, each finishing its own films: a model with real neighbours. */
function smallModel(): SharedModel {
  const views = [];
  for (let u = 0; u < 30; u++) {
    const group = u % 3;
    for (let f = 0; f < 4; f++) {
      views.push({
        user: `u${u}`,
        content_id: `film-${group}-${(f + u) % 5}`,
        completion: 1,
        watched: true,
        at: u * 10 + f,
      });
    }
    views.push({ user: `u${u}`, content_id: "film-everyone", completion: 0.2, watched: false, at: u * 10 + 5 });
  }
  return buildSharedModel(views, { lambda: 5, neighbours: 4, head: 100 }, new Date("2026-01-01T00:00:00Z"));
}

describe("shared model snapshot", () => {
  const model = smallModel();
  const bytes = encodeModelSnapshot(model);

  it("round-trips ids, popularity and neighbour lists exactly, and weights to within one quantization step", () => {
    const back = decodeModelSnapshot(bytes);
    expect(back.ids).toEqual(model.ids);
    expect(back.info).toEqual(model.info);
    expect([...back.popularity]).toEqual([...model.popularity]);
    expect([...back.neighbours.offsets]).toEqual([...model.neighbours.offsets]);
    expect([...back.neighbours.neighbours]).toEqual([...model.neighbours.neighbours]);
    expect(model.neighbours.neighbours.length).toBeGreaterThan(0);
    for (let i = 0; i < model.ids.length; i++) {
      let max = 0;
      for (let a = model.neighbours.offsets[i]!; a < model.neighbours.offsets[i + 1]!; a++)
        max = Math.max(max, Math.abs(model.neighbours.weights[a]!));
      for (let a = model.neighbours.offsets[i]!; a < model.neighbours.offsets[i + 1]!; a++) {
        expect(Math.abs(back.neighbours.weights[a]! - model.neighbours.weights[a]!)).toBeLessThanOrEqual(
          max / 254 + 1e-7,
        );
      }
    }
  });

  it("encodes the same model to the same bytes, and reads a copy that is not 8-byte aligned", () => {
    expect(encodeModelSnapshot(model)).toEqual(bytes);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(decodeModelSnapshot(shifted.subarray(3)).ids).toEqual(model.ids);
  });

  it("uses 4-byte neighbour ids past 65,536 titles", () => {
    const items = 70_000;
    const big: SharedModel = {
      ids: Array.from({ length: items }, (_, i) => `t${i}`),
      popularity: new Float32Array(items),
      neighbours: {
        items,
        offsets: Uint32Array.from({ length: items + 1 }, (_, i) => (i === 0 ? 0 : 1)),
        neighbours: Uint32Array.from([69_999]),
        weights: Float32Array.from([0.5]),
      },
      info: model.info,
    };
    const back = decodeModelSnapshot(encodeModelSnapshot(big));
    expect(back.neighbours.neighbours[0]).toBe(69_999);
    expect(back.neighbours.weights[0]).toBeCloseTo(0.5, 6);
  });

  it("refuses a corrupted, truncated or foreign snapshot", () => {
    const flip = (at: number) => {
      const copy = bytes.slice();
      copy[at]! ^= 0x40;
      return copy;
    };
    expect(() => decodeModelSnapshot(flip(bytes.length - 1))).toThrow(/checksum/);
    expect(() => decodeModelSnapshot(flip(20))).toThrow(/header checksum/);
    expect(() => decodeModelSnapshot(bytes.subarray(0, bytes.length - 8))).toThrow(ModelSnapshotError);
    expect(() => decodeModelSnapshot(bytes.subarray(0, 10))).toThrow(ModelSnapshotError);
    expect(() => decodeModelSnapshot(new TextEncoder().encode("MGSEARCH and more bytes"))).toThrow(
      /not a recommendation/,
    );
  });

  it("cuts a snapshot into chunks for KV and joins them back, refusing a missing, wrong or reordered chunk", async () => {
    const { manifest, chunks } = await splitSnapshot(bytes, 1000);
    expect(chunks.length).toBe(Math.ceil(bytes.length / 1000));
    expect(manifest.version).toMatch(/^[0-9a-f]{16}$/);
    expect(joinSnapshot(manifest, chunks)).toEqual(bytes);
    expect(() => joinSnapshot(manifest, chunks.slice(0, -1))).toThrow(ModelSnapshotError);
    expect(() => joinSnapshot(manifest, [...chunks.slice(0, -1), null])).toThrow(/missing/);
    if (chunks.length > 1) expect(() => joinSnapshot(manifest, [...chunks].reverse())).toThrow(ModelSnapshotError);
    const damaged = chunks.map((c) => c.slice());
    damaged[0]![0]! ^= 1;
    expect(() => joinSnapshot(manifest, damaged)).toThrow(/not the one/);
    // Equal models share a version; another model does not.
    expect((await splitSnapshot(encodeModelSnapshot(model))).manifest.version).toBe(manifest.version);
  });

  it("computes CRC-32 as zlib does", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});

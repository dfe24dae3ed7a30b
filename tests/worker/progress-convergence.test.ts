import { describe, expect, it } from "vitest";
import { encodeHlc } from "../../src/domain/hlc";
import { newUser } from "./helpers";

const FILM = "film-the-matrix-1999";
const base = Date.now() - 3600_000;
const stamp = (offsetMs: number, node: string) => encodeHlc({ ms: base + offsetMs, counter: 0, node });

interface Write {
  position_seconds: number;
  duration_seconds: number;
  state: "playing" | "paused" | "stopped";
  hlc: string;
  device_id: string;
}

/** The register two users end up with after the same writes in opposite orders. */
async function bothOrders(writes: Write[]) {
  const registers = [];
  for (const order of [writes, [...writes].reverse()]) {
    const { api } = await newUser("converge");
    for (const write of order) expect((await api.put(`/api/v1/sync/progress/${FILM}`, write)).status).toBe(200);
    const { json } = await api.get("/api/v1/sync/progress");
    registers.push(json.items);
  }
  return registers;
}

describe("progress registers converge whatever the arrival order", () => {
  it("a newer write with an unknown duration (0) gives the same register in either order", async () => {
    const [forward, backward] = await bothOrders([
      { position_seconds: 1800, duration_seconds: 8160, state: "paused", hlc: stamp(0, "tv"), device_id: "tv" },
      { position_seconds: 2400, duration_seconds: 0, state: "paused", hlc: stamp(1000, "phone"), device_id: "phone" },
    ]);
    expect(forward).toEqual(backward);
    expect(forward?.[0]).toMatchObject({ position_seconds: 2400, duration_seconds: 0, device_id: "phone" });
  });

  it("two devices writing under the same HLC keep the same register in either order", async () => {
    const shared = stamp(2000, "shared-node");
    const [forward, backward] = await bothOrders([
      { position_seconds: 600, duration_seconds: 8160, state: "paused", hlc: shared, device_id: "tv" },
      { position_seconds: 900, duration_seconds: 8160, state: "playing", hlc: shared, device_id: "phone" },
    ]);
    expect(forward).toEqual(backward);
    expect(forward).toHaveLength(1);
  });
});

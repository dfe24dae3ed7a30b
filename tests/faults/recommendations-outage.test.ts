import { afterEach, describe, expect, it } from "vitest";
import { newUser, setDatabase } from "../worker/helpers";
import { profileAfterJob } from "../worker/recommendations-helpers";

afterEach(() => setDatabase("up"));

describe("Postgres unreachable", () => {
  it("answers recommendations with a 503 to retry, and runs profile jobs queued meanwhile once it is back", async () => {
    const { api } = await newUser();
    expect((await api.get("/api/v1/recommendations")).status).toBe(200);
    await setDatabase("down");

    for (const res of [
      await api.get("/api/v1/recommendations"),
      await api.post("/api/v1/personalization/score", { content_ids: ["a"] }),
      await api.get("/api/v1/profile"),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.headers.get("retry-after")).toBe("5");
    }
    // Jobs go through the user's outbox: accepted now, run later.
    const queued = await api.post("/api/v1/profile/update");
    expect(queued.status).toBe(202);
    await new Promise((r) => setTimeout(r, 2500));
    await setDatabase("up");

    const profile = await profileAfterJob(api, queued.json.job_id);
    expect(profile.jobs[0]).toMatchObject({ job_id: queued.json.job_id, status: "done" });
    expect((await api.get("/api/v1/recommendations")).status).toBe(200);
  });
});

import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeEvent } from "../../src/contracts/events";
import { experimentAssignments, experiments } from "../../src/db/schema";
import { applyEventBatch } from "../../src/events/consumer";
import { newAccount } from "./accounts";
import { client, db, eventually, newUser, testConfig, tokenFor, withUserApi } from "./helpers";

const admin = async () => client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
const experimentId = (name: string) => `${name}-${crypto.randomUUID().slice(0, 8)}`;

async function createExperiment(
  variants: { name: string; weight: number }[] = [
    { name: "control", weight: 50 },
    { name: "treatment", weight: 50 },
  ],
  opts: { active?: boolean } = {},
) {
  const id = experimentId("exp");
  const res = await (await admin()).post("/api/v1/experiments", {
    id,
    name: `Experiment ${id}`,
    variants,
    ...(opts.active === undefined ? {} : { active: opts.active }),
  });
  expect(res.status).toBe(201);
  return id;
}

const assignmentsOf = (id: string) =>
  db((d) => d.select().from(experimentAssignments).where(eq(experimentAssignments.experimentId, id)));

describe("experiments: administration", () => {
  it("an admin creates an experiment; it is listed and readable by users", async () => {
    const id = await createExperiment([
      { name: "control", weight: 60 },
      { name: "treatment", weight: 40 },
    ]);
    const { api } = await newUser();
    const one = await api.get(`/api/v1/experiments/${id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({
      id,
      active: true,
      variants: [
        { name: "control", weight: 60, share: 0.6 },
        { name: "treatment", weight: 40, share: 0.4 },
      ],
    });
    const [row] = await db((d) => d.select().from(experiments).where(eq(experiments.id, id)));
    expect(row?.allocation).toEqual({ control: [{ start: 0, end: 6000 }], treatment: [{ start: 6000, end: 10_000 }] });
  });

  it("a non-admin cannot create or update experiments (403), and nothing is written", async () => {
    const { api } = await newUser();
    const id = experimentId("forbidden");
    const created = await api.post("/api/v1/experiments", { id, name: "x", variants: [{ name: "a", weight: 1 }] });
    expect(created.status).toBe(403);
    expect(created.headers.get("content-type")).toBe("application/problem+json");
    const account = await newAccount();
    expect(
      (await account.api.post("/api/v1/experiments", { id, name: "x", variants: [{ name: "a", weight: 1 }] })).status,
    ).toBe(403);
    const existing = await createExperiment();
    const updated = await api.put(`/api/v1/experiments/${existing}`, {
      name: "hijacked",
      variants: [{ name: "control", weight: 1 }],
      active: true,
    });
    expect(updated.status).toBe(403);
    expect(await db((d) => d.select().from(experiments).where(eq(experiments.id, id)))).toHaveLength(0);
    expect((await api.get(`/api/v1/experiments/${existing}`)).json.name).not.toBe("hijacked");
  });

  it("an admin signed in with an account (role from Postgres) may create", async () => {
    const owner = await newAccount({ admin: true });
    const id = experimentId("account-admin");
    const res = await owner.api.post("/api/v1/experiments", { id, name: "x", variants: [{ name: "a", weight: 1 }] });
    expect(res.status).toBe(201);
  });

  it("refuses a duplicate id with 409", async () => {
    const id = await createExperiment();
    const again = await (await admin()).post("/api/v1/experiments", {
      id,
      name: "again",
      variants: [{ name: "a", weight: 1 }],
    });
    expect(again.status).toBe(409);
  });

  it.each([
    ["no variants", { variants: [] }],
    [
      "duplicate variant names",
      {
        variants: [
          { name: "a", weight: 1 },
          { name: "a", weight: 2 },
        ],
      },
    ],
    [
      "all weights zero",
      {
        variants: [
          { name: "a", weight: 0 },
          { name: "b", weight: 0 },
        ],
      },
    ],
    [
      "a negative weight",
      {
        variants: [
          { name: "a", weight: -1 },
          { name: "b", weight: 2 },
        ],
      },
    ],
    ["a bad variant name", { variants: [{ name: "a b", weight: 1 }] }],
    ["a bad id", { id: "no spaces allowed" }],
    ["a string weight", { variants: [{ name: "a", weight: "50" }] }],
    ["21 variants", { variants: Array.from({ length: 21 }, (_, i) => ({ name: `v${i}`, weight: 1 })) }],
  ])("answers 400 problem+json to %s", async (_, patch) => {
    const body = { id: experimentId("bad"), name: "bad", variants: [{ name: "a", weight: 1 }], ...patch };
    const res = await (await admin()).post("/api/v1/experiments", body);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.json.errors.length).toBeGreaterThan(0);
  });

  it("lists experiments by id with limit and an opaque cursor", async () => {
    const ids = [await createExperiment(), await createExperiment(), await createExperiment()];
    const { api } = await newUser();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; json: any } = await api.get(
        `/api/v1/experiments?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(page.status).toBe(200);
      expect(page.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.items.map((e: { id: string }) => e.id));
      cursor = page.json.next_cursor;
    } while (cursor);
    for (const id of ids) expect(seen).toContain(id);
    expect([...seen].sort()).toEqual(seen);
    expect((await api.get("/api/v1/experiments?cursor=not-a-cursor")).status).toBe(400);
    expect((await api.get("/api/v1/experiments?limit=101")).status).toBe(400);
  });
});

describe("experiments: assignment", () => {
  it("the same user always gets the same variant", async () => {
    const id = await createExperiment();
    const { api } = await newUser();
    const first = await api.get(`/api/v1/experiments/${id}/assign`);
    expect(first.status).toBe(200);
    expect(first.json.experiment_id).toBe(id);
    expect(["control", "treatment"]).toContain(first.json.variant);
    for (let i = 0; i < 5; i++) {
      expect((await api.get(`/api/v1/experiments/${id}/assign`)).json.variant).toBe(first.json.variant);
    }
  });

  it("splits users between the variants", async () => {
    const id = await createExperiment();
    const variants = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { api } = await newUser();
      variants.add((await api.get(`/api/v1/experiments/${id}/assign`)).json.variant);
    }
    expect(variants).toEqual(new Set(["control", "treatment"]));
  });

  it("answers an unknown experiment with 404 and an inactive one with 409", async () => {
    const { api } = await newUser();
    const unknown = await api.get(`/api/v1/experiments/${experimentId("nope")}/assign`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.type).toContain("experiment-not-found");
    const inactive = await createExperiment(undefined, { active: false });
    const res = await api.get(`/api/v1/experiments/${inactive}/assign`);
    expect(res.status).toBe(409);
    expect(res.json.type).toContain("experiment-inactive");
    expect(await assignmentsOf(inactive)).toHaveLength(0);
  });

  it("needs a token", async () => {
    const id = await createExperiment();
    expect((await client(null).get(`/api/v1/experiments/${id}/assign`)).status).toBe(401);
  });

  it("records one exposure per user in Postgres, however often the user is assigned", async () => {
    const id = await createExperiment();
    const { id: userId, api } = await newUser();
    const { json } = await api.get(`/api/v1/experiments/${id}/assign`);
    for (let i = 0; i < 3; i++) await api.get(`/api/v1/experiments/${id}/assign`);
    const rows = await eventually(
      () => assignmentsOf(id),
      (r) => r.length === 1,
    );
    expect(rows[0]).toMatchObject({ userId, variant: json.variant });
    expect(rows[0]?.bucket).toBeGreaterThanOrEqual(0);
    // The user's object emitted exactly one event for it: a direct repeat is not news.
    expect(
      await withUserApi(userId, (api) => api.recordExposure({ experiment_id: id, variant: json.variant, bucket: 0 })),
    ).toBe(false);
  });

  it("after a weight change, only moved users get a new exposure; the row follows the new variant", async () => {
    const id = await createExperiment();
    const users = await Promise.all(Array.from({ length: 30 }, () => newUser()));
    const before = new Map<string, string>();
    for (const u of users) before.set(u.id, (await u.api.get(`/api/v1/experiments/${id}/assign`)).json.variant);
    await eventually(
      () => assignmentsOf(id),
      (r) => r.length === users.length,
    );

    const updated = await (await admin()).put(`/api/v1/experiments/${id}`, {
      name: "reweighed",
      variants: [
        { name: "control", weight: 10 },
        { name: "treatment", weight: 90 },
      ],
      active: true,
    });
    expect(updated.status).toBe(200);
    expect(updated.json.variants.map((v: { share: number }) => v.share)).toEqual([0.1, 0.9]);

    let moved = 0;
    for (const u of users) {
      const now = (await u.api.get(`/api/v1/experiments/${id}/assign`)).json.variant;
      const was = before.get(u.id);
      if (was !== now) {
        moved++;
        expect([was, now]).toEqual(["control", "treatment"]); // only control users move, to treatment
      }
    }
    expect(moved).toBeGreaterThan(0);
    await eventually(
      async () => {
        const rows = await assignmentsOf(id);
        return rows.filter((r) => r.variant === "treatment").length;
      },
      (n) => n === [...before.values()].filter((v) => v === "treatment").length + moved,
    );
    const [sample] = await db((d) =>
      d
        .select()
        .from(experimentAssignments)
        .where(and(eq(experimentAssignments.experimentId, id), eq(experimentAssignments.variant, "treatment"))),
    );
    expect(sample?.firstExposedAt.getTime()).toBeLessThanOrEqual(sample?.exposedAt.getTime() as number);
  });

  it("a PUT to an unknown experiment is a 404", async () => {
    const res = await (await admin()).put(`/api/v1/experiments/${experimentId("missing")}`, {
      name: "x",
      variants: [{ name: "a", weight: 1 }],
      active: true,
    });
    expect(res.status).toBe(404);
  });

  it("deactivating an experiment stops assignment at once", async () => {
    const id = await createExperiment();
    const { api } = await newUser();
    expect((await api.get(`/api/v1/experiments/${id}/assign`)).status).toBe(200);
    await (await admin()).put(`/api/v1/experiments/${id}`, {
      name: "paused",
      variants: [
        { name: "control", weight: 50 },
        { name: "treatment", weight: 50 },
      ],
      active: false,
    });
    expect((await api.get(`/api/v1/experiments/${id}/assign`)).status).toBe(409);
  });
});

describe("experiments: the queue consumer", () => {
  const exposure = (userId: string, experiment: string, variant: string, hlc: string, at: string) =>
    ({
      id: crypto.randomUUID(),
      body: makeEvent(
        "experiment-exposure",
        userId,
        hlc,
        {
          experiment_id: experiment,
          variant,
          bucket: 1234,
          first_exposed_at: "2026-01-01T00:00:00.000Z",
        },
        new Date(at),
      ),
    }) as const;

  it("is idempotent and never goes back in time: a replayed or older exposure changes nothing", async () => {
    const userId = `consumer-${crypto.randomUUID()}`;
    const id = experimentId("consumer");
    const older = exposure(userId, id, "control", "000001000000000:000000:server", "2026-01-01T00:00:00.000Z");
    const newer = exposure(userId, id, "treatment", "000002000000000:000000:server", "2026-01-02T00:00:00.000Z");
    await applyEventBatch(testConfig(), "test", [newer]);
    const first = await assignmentsOf(id);
    await applyEventBatch(testConfig(), "test", [newer, older]);
    await applyEventBatch(testConfig(), "test", [older]);
    const after = await assignmentsOf(id);
    expect(after).toEqual(first);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ variant: "treatment", hlc: newer.body.hlc });
  });
});

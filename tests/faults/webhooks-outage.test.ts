import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, inject, it } from "vitest";
import { eventually, newUser, setDatabase } from "../worker/helpers";

afterEach(() => setDatabase("up"));

const recorder = inject("webhookRecorder");

describe("webhooks while Postgres is unreachable", () => {
  it("delivers every event of writes acknowledged during the outage, once each, after recovery", async () => {
    const { id, api } = await newUser();
    const name = `outage${crypto.randomUUID().replaceAll("-", "")}`;
    const created = await api.post("/api/v1/webhooks", {
      url: `http://${recorder}/hook/${name}`,
      events: ["progress-changed"],
    });
    expect(created.status).toBe(201);

    await setDatabase("down");
    const films = ["film-alien-1979", "film-amadeus-1984", "film-annie-hall-1977"];
    for (const film of films) expect((await api.put(`/api/v1/history/${film}/watched`)).status).toBe(200);
    // Let the consumer fail at least once against the dead database: nothing can be queued meanwhile.
    await new Promise((r) => setTimeout(r, 2500));
    await setDatabase("up");

    const received = async () =>
      (await (await fetch(`http://${recorder}/__records/${name}`)).json()) as {
        headers: Record<string, string>;
        body: string;
      }[];
    const all = await eventually(received, (r) => r.length >= films.length, 45_000);
    const verifier = new Webhook(created.json.secret);
    const events = all.map(
      (r) => verifier.verify(r.body, r.headers) as { user_id: string; data: { content_id: string } },
    );
    expect(events.every((e) => e.user_id === id)).toBe(true);
    expect(events.map((e) => e.data.content_id).sort()).toEqual([...films].sort());
  });
});

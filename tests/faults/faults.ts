import { inject } from "vitest";

/**
 * Arms the test proxy: when the (n+1)-th database request (a Query or a Sync, from any
 * connection) arrives, every connection is dropped and that request is never delivered.
 */
export async function cutDatabaseAfter(requests: number): Promise<void> {
  const res = await fetch(`http://${inject("dbProxy")}/__control/cut-after/${requests}`, { method: "POST" });
  if (res.status !== 204) throw new Error(`proxy control answered ${res.status}`);
}

/** Resolves once the armed cut has dropped the connections. */
export async function cutHappened(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`http://${inject("dbProxy")}/__control/cut`);
    if (!((await res.json()) as { armed: boolean }).armed) return;
    if (Date.now() > deadline) throw new Error(`no database request arrived in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

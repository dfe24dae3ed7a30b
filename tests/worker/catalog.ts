/** Real content of the seeded catalog (scripts/seed.ts) for tests that need many distinct ids. */
import { and, asc, eq, like } from "drizzle-orm";
import { content } from "../../src/db/schema";
import { db } from "./helpers";

let films: Promise<string[]> | null = null;

/** Every film id of the seeded catalog, in id order; read from Postgres once per test file. */
export function catalogFilms(): Promise<string[]> {
  films ??= db((d) =>
    d
      .select({ id: content.id })
      .from(content)
      .where(and(eq(content.kind, "movie"), like(content.id, "film-%")))
      .orderBy(asc(content.id)),
  ).then((rows) => rows.map((r) => r.id));
  return films;
}

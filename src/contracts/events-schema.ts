import { z } from "zod";
import { envelopeSchema, eventDataSchemas } from "./events";

/** Where the document is served; also its `$id`. */
export const EVENT_SCHEMA_PATH = "/events/schema.json";

const envelopeDescriptions = {
  event_id: "Unique per event; the idempotency key. A redelivered event carries the same id.",
  type: "The event type; one of the $defs of this document.",
  version: "Version of this type's `data`. A consumer skips a type it does not know or a newer version.",
  user_id: "The user the event is about (the access token's subject).",
  occurred_at: "When the change happened on the server, ISO-8601 UTC.",
  hlc: "Hybrid logical clock of the change. Per user, byte-wise order of `hlc` is the order of the changes.",
  data: "The type's payload.",
} as const;

/**
 * The published contract: one JSON Schema (draft 2020-12) with one `$defs` entry per event type,
 * generated from the zod schemas the consumer itself decodes with, so the two cannot drift.
 * Published with input semantics: unknown properties are allowed, since adding an optional field
 * does not bump a version and consumers must ignore fields they do not know.
 */
export function eventJsonSchema(): Record<string, unknown> {
  const types = Object.entries(eventDataSchemas) as [string, { version: number; data: z.ZodType }][];
  const variants = types.map(([type, { version, data }]) =>
    envelopeSchema
      .extend({
        event_id: envelopeSchema.shape.event_id.describe(envelopeDescriptions.event_id),
        type: z.literal(type).describe(envelopeDescriptions.type),
        version: z.literal(version).describe(envelopeDescriptions.version),
        user_id: envelopeSchema.shape.user_id.describe(envelopeDescriptions.user_id),
        occurred_at: envelopeSchema.shape.occurred_at.describe(envelopeDescriptions.occurred_at),
        hlc: envelopeSchema.shape.hlc.describe(envelopeDescriptions.hlc),
        data: data.describe(envelopeDescriptions.data),
      })
      .meta({ id: type, title: `${type} v${version}` }),
  );
  const union = z.union(variants as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]);
  const generated = z.toJSONSchema(union, { target: "draft-2020-12", io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  const { $schema, anyOf, $defs } = generated;
  return {
    $schema,
    $id: `https://media-gateway.dev${EVENT_SCHEMA_PATH}`,
    title: "Media Gateway events on the EVENTS queue",
    description:
      "Delivery is at least once: deduplicate by event_id. Per user, order by hlc (byte-wise). " +
      "Skip a type you do not know or a version newer than the one you understand.",
    "x-versions": Object.fromEntries(types.map(([type, { version }]) => [type, version])),
    oneOf: anyOf,
    $defs,
  };
}

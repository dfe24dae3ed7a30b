import { z } from "@hono/zod-openapi";
import { requireUserState } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { notFound } from "../contracts/problems";
import { deviceSchema } from "../contracts/sync";
import { encodeCursor } from "../domain/cursor";
import { DEVICE_TYPES } from "../domain/device";
import {
  guardedRouter,
  json,
  pageCursor,
  pageOf,
  pageQuery,
  problem,
  removedOr404,
  resourceId,
  userRoute,
  userState,
} from "./router";

const MAX_CAPABILITIES_BYTES = 4096;
/**
 * Text Postgres cannot store: NUL, and in jsonb an unpaired surrogate. A device name with one
 * would fail every queue batch its event rode in.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what Postgres refuses
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorable = (value: unknown): boolean =>
  typeof value === "string"
    ? UNSTORABLE.test(value)
    : typeof value === "object" && value !== null
      ? Object.entries(value).some(([k, v]) => UNSTORABLE.test(k) || unstorable(v))
      : false;
const STORABLE_MESSAGE = "must not contain NUL or unpaired surrogates";
const text = (max: number, example: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((v) => !unstorable(v), STORABLE_MESSAGE)
    .openapi({ example });

const deviceBody = z
  .object({
    device_type: z.enum(DEVICE_TYPES),
    platform: text(64, "tvOS"),
    capabilities: z
      // Values are JSON already (the body was parsed as JSON); a recursive z.json() breaks the OpenAPI generator.
      .record(
        z.string().max(64),
        z.union([
          z.string(),
          z.number(),
          z.boolean(),
          z.null(),
          z.array(z.unknown()),
          z.record(z.string(), z.unknown()),
        ]),
      )
      .refine((c) => JSON.stringify(c).length <= MAX_CAPABILITIES_BYTES, {
        message: `at most ${MAX_CAPABILITIES_BYTES} bytes of JSON`,
      })
      .refine((c) => !unstorable(c), STORABLE_MESSAGE)
      .openapi({ example: { hdr: true, max_resolution: "2160p", codecs: ["hevc", "av1"] } }),
    app_version: text(32, "4.2.0"),
    device_name: text(128, "Living room TV"),
  })
  .openapi("DeviceRegistration");

const deviceParams = z.object({ device_id: resourceId("device_id", "living-room-tv") });

export const deviceRoutes = guardedRouter(["/devices", "/devices/*"], requireUserState)
  .openapi(
    userRoute("Devices", "put", "/devices/{device_id}", "Register or update a device (counts as a heartbeat)", {
      request: { params: deviceParams, body: { content: json(deviceBody), required: true } },
      responses: {
        200: { description: "Updated", content: json(deviceSchema) },
        201: { description: "Registered", content: json(deviceSchema) },
        409: problem("Too many devices: remove one first"),
      },
    }),
    async (c) => {
      const { device, created } = unwrap(
        await userState(c).registerDevice(c.req.valid("param").device_id, c.req.valid("json")),
      );
      return created ? c.json(device, 201) : c.json(device, 200);
    },
  )
  .openapi(
    userRoute("Devices", "post", "/devices/{device_id}/heartbeat", "The device is alive", {
      description: "A device with no heartbeat and no open socket for the offline window is marked offline.",
      request: { params: deviceParams },
      responses: { 200: { description: "The device", content: json(deviceSchema) } },
    }),
    async (c) => {
      const device = unwrap(await userState(c).heartbeat(c.req.valid("param").device_id));
      if (!device) throw notFound("device");
      return c.json(device, 200);
    },
  )
  .openapi(
    userRoute("Devices", "get", "/devices", "The user's devices with presence, by device id", {
      request: { query: pageQuery },
      responses: {
        200: {
          description: "A page",
          content: json(pageOf(deviceSchema).openapi("DevicePage")),
        },
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const after = pageCursor(cursor, { d: "string" })?.d ?? null;
      const result = await userState(c).devices({ limit, after });
      return c.json({ items: result.items, next_cursor: result.next && encodeCursor({ d: result.next }) }, 200);
    },
  )
  .openapi(
    userRoute("Devices", "delete", "/devices/{device_id}", "Remove a device", {
      request: { params: deviceParams },
      responses: { 204: { description: "Removed" } },
    }),
    async (c) => removedOr404(c, "device", await userState(c).deleteDevice(c.req.valid("param").device_id)),
  );

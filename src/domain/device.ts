/** The kinds of device a user registers; the Postgres mirror checks the same list. */
export const DEVICE_TYPES = ["TV", "Phone", "Tablet", "Web", "Desktop"] as const;

export type DeviceType = (typeof DEVICE_TYPES)[number];

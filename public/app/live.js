// @ts-check
/**
 * The live sync socket: the server pushes every change of this user made on another device.
 * Reconnects with backoff and resumes from the last cursor, so nothing is missed while away.
 * Its messages are the server's own contract (src/contracts/sync-socket.ts, published as
 * /api/v1/sync/ws/schema.json); `npm run typecheck` checks this file against it.
 */
import { api, auth } from "./api.js";
import { tokenSecondsLeft } from "./format.js";

/** @typedef {import("../../src/contracts/sync-socket").ServerMessage} ServerMessage */
/** @typedef {import("../../src/contracts/sync-socket").ClientMessage} ClientMessage */

const PING_MS = 25_000;
const MAX_BACKOFF_MS = 30_000;

export class LiveSync extends EventTarget {
  /** @param {string} deviceId */
  constructor(deviceId) {
    super();
    this.deviceId = deviceId;
    /** @type {string | null} */
    this.cursor = null;
    this.status = "offline";
    /** @type {WebSocket | null} */
    this.socket = null;
    this.attempts = 0;
    this.stopped = true;
    /** @type {{ ping: ReturnType<typeof setInterval> | undefined, retry: ReturnType<typeof setTimeout> | undefined }} */
    this.timers = { ping: undefined, retry: undefined };
  }

  start() {
    this.stopped = false;
    void this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.retry);
    this.socket?.close(1000, "signed out");
    this.socket = null;
    this.setStatus("offline");
  }

  async connect() {
    if (this.stopped) return;
    // A token about to expire is renewed first: the socket cannot answer 401 and retry.
    const left = tokenSecondsLeft(auth.accessToken);
    if (left !== null && left < 30) await api("GET", "/devices?limit=1").catch(() => {});
    const token = auth.accessToken;
    if (!token || this.stopped) return;
    this.setStatus("connecting");
    const params = new URLSearchParams({ device_id: this.deviceId });
    if (this.cursor) params.set("since", this.cursor);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // Browsers cannot set headers on a WebSocket: the token travels as a subprotocol, not in the URL.
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/sync/ws?${params}`, ["bearer", token]);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempts = 0;
      this.setStatus("live");
      clearInterval(this.timers.ping);
      this.timers.ping = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send("ping"), PING_MS);
    });
    socket.addEventListener("message", (event) => this.receive(socket, event.data));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      clearInterval(this.timers.ping);
      this.socket = null;
      if (this.stopped) return;
      this.setStatus("offline");
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempts++) * (0.75 + Math.random() / 2);
      this.timers.retry = setTimeout(() => void this.connect(), delay);
    });
  }

  /**
   * @param {WebSocket} socket
   * @param {string} data
   */
  receive(socket, data) {
    if (data === "pong") return;
    /** @type {ServerMessage} */
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === "hello") {
      this.cursor = message.cursor;
      this.dispatchEvent(new CustomEvent("hello", { detail: message }));
    } else if (message.type === "change" || message.type === "sync") {
      this.cursor = message.cursor;
      this.dispatchEvent(new CustomEvent("change", { detail: message }));
      // Telling the server what this device has lets it forget tombstones sooner.
      /** @type {ClientMessage} */
      const ack = { type: "ack", cursor: message.cursor };
      socket.send(JSON.stringify(ack));
    } else if (message.type === "error") {
      console.warn(`live sync: ${message.code}:`, message.detail);
    }
  }

  /** @param {string} status */
  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }
}

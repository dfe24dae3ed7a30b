/**
 * The API client: bearer tokens, RFC 9457 problems as errors, and refresh-token rotation shared
 * by every tab of the browser (tokens live in localStorage; one tab refreshes at a time).
 */
import { tokenSubject } from "./format.js";

const BASE = "/api/v1";
const KEYS = {
  access: "mg.access_token",
  refresh: "mg.refresh_token",
  email: "mg.email",
  profile: "mg.profile_name",
};

export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** The server does not have this endpoint (yet): the feature is not deployed, not broken. */
  get missingRoute() {
    return this.status === 404 && this.problem?.detail === "no such route";
  }

  /** Field-level messages of a validation problem, as "field: message" lines. */
  get fieldMessages() {
    return (this.problem?.errors ?? []).map((e) => `${e.path}: ${e.message}`);
  }
}

/** Who is signed in, shared by every tab of this browser. */
export const auth = {
  get accessToken() {
    return localStorage.getItem(KEYS.access);
  },
  get refreshToken() {
    return localStorage.getItem(KEYS.refresh);
  },
  get email() {
    return localStorage.getItem(KEYS.email);
  },
  get userLabel() {
    return this.email ?? tokenSubject(this.accessToken) ?? "unknown user";
  },
  get signedIn() {
    return Boolean(this.accessToken);
  },
  /** The name of the profile signed in, as last seen in the profile list. */
  get profileName() {
    return localStorage.getItem(KEYS.profile);
  },
  rememberProfileName(name) {
    localStorage.setItem(KEYS.profile, name);
  },
  /** Keeps a new token pair; `email` undefined keeps the one stored (a refresh), null forgets it. */
  store({ access_token, refresh_token = null, email }) {
    localStorage.setItem(KEYS.access, access_token);
    if (refresh_token) localStorage.setItem(KEYS.refresh, refresh_token);
    else localStorage.removeItem(KEYS.refresh);
    if (email) localStorage.setItem(KEYS.email, email);
    else if (email === null) localStorage.removeItem(KEYS.email);
  },
  clear() {
    for (const key of Object.values(KEYS)) localStorage.removeItem(key);
  },
  /** Calls `listener` when another tab signs in or out. */
  onChange(listener) {
    window.addEventListener("storage", (event) => {
      if (event.key === KEYS.access) listener();
    });
  },
};

/** Called when the session cannot be renewed: the app shows the sign-in form. */
let onSignedOut = () => {};
export function whenSignedOut(listener) {
  onSignedOut = listener;
}

/**
 * One API call. Returns the parsed JSON (null for 204); throws ApiError with the problem.
 * A 401 with a refresh token renews the pair once and retries.
 */
export async function api(method, path, { body, headers = {}, authenticate = true, keepalive = false } = {}) {
  const send = (token) =>
    fetch(`${BASE}${path}`, {
      method,
      keepalive,
      headers: {
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(authenticate && token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const token = auth.accessToken;
  let response = await send(token);
  if (response.status === 401 && authenticate && token) {
    const renewed = await renew(token);
    if (renewed) response = await send(renewed);
    if (response.status === 401) {
      auth.clear();
      onSignedOut("Your session has ended; please sign in again.");
    }
  }
  return parse(response);
}

async function parse(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("retry-after"));
  return data;
}

/**
 * A new access token, or null. Refresh tokens are single use and a reused one revokes the whole
 * family, so tabs take a lock and a tab that finds the token already renewed just uses it.
 */
async function renew(expiredToken) {
  const work = async () => {
    const current = auth.accessToken;
    if (current && current !== expiredToken) return current;
    const refresh_token = auth.refreshToken;
    if (!refresh_token) return null;
    const response = await fetch(`${BASE}/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token }),
    });
    if (!response.ok) return null;
    const pair = await response.json();
    auth.store({ access_token: pair.access_token, refresh_token: pair.refresh_token });
    return pair.access_token;
  };
  return navigator.locks ? navigator.locks.request("mg-token-refresh", work) : work();
}

/** Register (when asked), then sign in: the server answers register with 202 whether or not the account existed. */
export async function signIn(email, password, { register = false } = {}) {
  if (register) await api("POST", "/auth/register", { body: { email, password }, authenticate: false });
  const pair = await api("POST", "/auth/login", { body: { email, password }, authenticate: false });
  auth.store({ access_token: pair.access_token, refresh_token: pair.refresh_token, email });
  return pair;
}

export async function signOut() {
  try {
    // Only tokens from /auth/login belong to a family the server can revoke.
    if (auth.refreshToken) await api("POST", "/auth/logout");
  } catch {
    // Signing out locally matters most; the server forgets the tokens when they expire.
  }
  auth.clear();
}

/** Query string from an object, repeating array values and leaving out empty ones. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") search.append(key, String(v));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

import { type Account, anonymous, freshAddress, newAccount } from "./accounts";
import { client } from "./helpers";

/** A profile signed in: its id (the user every per-user endpoint serves) and its tokens. */
export interface SignedInProfile {
  id: string;
  accessToken: string;
  refreshToken: string;
  familyId: string;
  api: ReturnType<typeof client>;
}

/** Adds a profile to the owner's account; throws unless it was created. */
export async function addProfile(
  owner: Account,
  body: { name: string; maturity_limit?: string | null; pin?: string },
): Promise<{ id: string; name: string; maturity_limit: string | null; has_pin: boolean; is_owner: boolean }> {
  const res = await owner.api.post("/api/v1/profiles", body);
  if (res.status !== 201) throw new Error(`POST /profiles answered ${res.status}: ${res.text}`);
  return res.json;
}

/** Switches to a profile with `as`'s token: the new pair, signed in as that profile. */
export async function selectProfile(
  as: { api: ReturnType<typeof client> },
  profileId: string,
  pin?: string,
): Promise<SignedInProfile> {
  const res = await as.api.post(`/api/v1/profiles/${profileId}/select`, pin === undefined ? {} : { pin });
  if (res.status !== 200) throw new Error(`select answered ${res.status}: ${res.text}`);
  return {
    id: res.json.user_id,
    accessToken: res.json.access_token,
    refreshToken: res.json.refresh_token,
    familyId: res.json.family_id,
    api: client(res.json.access_token),
  };
}

/** An account with a second profile (limited to `limit` when given), both signed in. */
export async function household(limit: string | null = null) {
  const owner = await newAccount();
  const kidProfile = await addProfile(owner, { name: "Kid", maturity_limit: limit });
  const kid = await selectProfile(owner, kidProfile.id);
  return { owner, kid };
}

/** Asks for a TV code from a client address of its own. */
export async function deviceCode(address = freshAddress()) {
  const res = await anonymous.post("/api/v1/auth/device/code", {}, { "cf-connecting-ip": address });
  if (res.status !== 200) throw new Error(`device/code answered ${res.status}: ${res.text}`);
  return res.json as {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete: string;
    expires_in: number;
    interval: number;
  };
}

export const pollToken = (deviceCodeValue: string) =>
  anonymous.post("/api/v1/auth/device/token", { device_code: deviceCodeValue });

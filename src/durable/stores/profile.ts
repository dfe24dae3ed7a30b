import type { Meta } from "./meta";

/**
 * What the object enforces about its profile beyond revoked families: the version of the
 * profile's settings current tokens must carry (a changed maturity limit makes older tokens
 * stale), and whether the profile was deleted (then no token opens it again). Kept in `meta`,
 * mirrored in memory: the check on every request reads no storage.
 */
export class ProfileStatus {
  #version: number;
  #erasedAt: number | null;

  constructor(private readonly meta: Meta) {
    this.#version = Number(meta.get("profile_version") ?? 0);
    const erased = meta.get("erased_at");
    this.#erasedAt = erased === null ? null : Number(erased);
  }

  get erased(): boolean {
    return this.#erasedAt !== null;
  }

  get version(): number {
    return this.#version;
  }

  /** Whether a token issued with settings `version` is still current. */
  current(version: number): boolean {
    return version >= this.#version;
  }

  /** Versions only go up (a late call with an older one changes nothing). Inside the write's transaction. */
  raiseVersion(version: number): boolean {
    if (version <= this.#version) return false;
    this.meta.set("profile_version", String(version));
    this.#version = version;
    return true;
  }

  /** Inside the erasing transaction. */
  markErased(now: number): void {
    this.meta.set("erased_at", String(now));
    this.#erasedAt = now;
  }
}

import { createHash, timingSafeEqual } from "node:crypto";

export interface ApiKey {
  tenant: string;
  key: string;
}

const TENANT = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * `tenant:key` pairs separated by commas or newlines (`#` starts a comment line). A tenant may
 * have several keys, so keys can be rotated: add the new one, move callers, drop the old one.
 */
export function parseApiKeys(text: string, source: string): ApiKey[] {
  const keys: ApiKey[] = [];
  for (const entry of text.split(/[\n,]/)) {
    const item = entry.trim();
    if (item === "" || item.startsWith("#")) continue;
    const colon = item.indexOf(":");
    const tenant = item.slice(0, colon);
    const key = item.slice(colon + 1);
    // The key itself never goes into the message: it may be a real credential.
    if (colon < 1 || !TENANT.test(tenant)) {
      throw new Error(`${source}: each entry must be tenant:key with a tenant of [A-Za-z0-9._-]`);
    }
    if (key.length < 8 || /\s/.test(key)) {
      throw new Error(
        `${source}: the key of tenant ${tenant} must be 8 or more non-space characters`,
      );
    }
    keys.push({ tenant, key });
  }
  return keys;
}

const digest = (key: string) => createHash("sha256").update(key).digest();

/** Finds a key's tenant comparing fixed-length digests in constant time, without early exit. */
export function keyring(keys: readonly ApiKey[]): (presented: string) => string | null {
  const entries = keys.map(({ tenant, key }) => ({ tenant, digest: digest(key) }));
  return (presented) => {
    const candidate = digest(presented);
    let tenant: string | null = null;
    for (const entry of entries) {
      if (timingSafeEqual(candidate, entry.digest) && tenant === null) tenant = entry.tenant;
    }
    return tenant;
  };
}

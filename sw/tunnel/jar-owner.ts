/** Where the identity the app's stored session belongs to is kept. */
export const JAR_OWNER_KEY = 'jar-owner';

export interface OwnerStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
}

/**
 * The app's session (cookie jar, cached documents) belongs to the identity that made it. When another
 * identity is signed in, without a sign-out in between, `forget` wipes what the previous one left, so
 * the new person never continues the previous person's app session. Returns whether it wiped.
 */
export async function ensureJarOwner(
  identityId: string | undefined,
  store: OwnerStore,
  forget: () => Promise<void>,
): Promise<boolean> {
  if (identityId === undefined) return false;
  if ((await store.get(JAR_OWNER_KEY)) === identityId) return false;
  await forget();
  await store.set(JAR_OWNER_KEY, identityId);
  return true;
}

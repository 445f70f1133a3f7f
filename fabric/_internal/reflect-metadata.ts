/**
 * @peculiar/x509 uses tsyringe, which refuses to load without a `Reflect.getMetadata` polyfill.
 * We never use decorator metadata, so a minimal no-op store is enough. Import this before x509.
 */
const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  const store = new WeakMap<object, Map<unknown, unknown>>();
  R.defineMetadata = (key: unknown, value: unknown, target: object) => {
    const m = store.get(target) ?? new Map();
    m.set(key, value);
    store.set(target, m);
  };
  R.getMetadata = (key: unknown, target: object) => store.get(target)?.get(key);
  R.getOwnMetadata = R.getMetadata;
  R.hasMetadata = (key: unknown, target: object) => store.get(target)?.has(key) ?? false;
  R.metadata = (key: unknown, value: unknown) => (target: object) =>
    (R.defineMetadata as (k: unknown, v: unknown, t: object) => void)(key, value, target);
}

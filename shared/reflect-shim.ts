/**
 * @peculiar/x509 resolves its algorithm providers through tsyringe, which refuses to load unless a
 * Reflect metadata API exists. This is the minimal subset tsyringe calls (getMetadata,
 * getOwnMetadata, defineMetadata, metadata), kept in a WeakMap; it only installs when absent.
 * Imported by `x509.ts` before @peculiar/x509.
 */
type MetadataTarget = object;
const store = new WeakMap<
  MetadataTarget,
  Map<string | symbol | undefined, Map<unknown, unknown>>
>();

const table = (target: MetadataTarget, property: string | symbol | undefined, create: boolean) => {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let entries = byProperty.get(property);
  if (!entries && create) {
    entries = new Map();
    byProperty.set(property, entries);
  }
  return entries;
};

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== 'function') {
  const getOwnMetadata = (key: unknown, target: MetadataTarget, property?: string | symbol) =>
    table(target, property, false)?.get(key);
  const getMetadata = (key: unknown, target: MetadataTarget, property?: string | symbol) => {
    for (let t: MetadataTarget | null = target; t; t = Object.getPrototypeOf(t)) {
      const entries = table(t, property, false);
      if (entries?.has(key)) return entries.get(key);
    }
    return undefined;
  };
  const defineMetadata = (
    key: unknown,
    value: unknown,
    target: MetadataTarget,
    property?: string | symbol,
  ) => {
    table(target, property, true)!.set(key, value);
  };
  reflect.getOwnMetadata = getOwnMetadata;
  reflect.getMetadata = getMetadata;
  reflect.defineMetadata = defineMetadata;
  reflect.hasOwnMetadata = (key: unknown, target: MetadataTarget, property?: string | symbol) =>
    table(target, property, false)?.has(key) ?? false;
  reflect.metadata =
    (key: unknown, value: unknown) => (target: MetadataTarget, property?: string | symbol) =>
      defineMetadata(key, value, target, property);
}

/**
 * The service worker's parts (`sw/worker-parts.ts`): libraries built as classic scripts of their
 * own, which `sw.js` imports with `importScripts` on first use instead of carrying them. The SW
 * build (`vite.config.ts`) builds each part, then resolves the library's module to a stand-in that
 * asks `importPart` for the part's exports: the code that uses the library does not change, and
 * a dynamic `import()` of it stays lazy (the bundler evaluates an inlined dynamic import's module
 * only when the import runs).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { build, type Plugin, type Rolldown } from 'vite';
import { withoutSourceMapComment } from './source-map.ts';

/** What the worker loads on first use: the cookie jar's library (with its public suffix list) and the OAuth refresh's. */
export const WORKER_PARTS = [
  { name: 'cookies', module: 'tough-cookie' },
  { name: 'oauth', module: 'oauth4webapi' },
] as const;

export interface BuiltPart {
  name: string;
  /** The bare module specifier the part stands in for. */
  module: string;
  /** Where the worker imports it: under `/__zt/`, its content's hash in the name. */
  url: string;
  /** The global its script assigns the module's exports to. */
  global: string;
  /** The module's export names. */
  exports: string[];
}

/** Folder of `dist/` the parts go to. */
export const PARTS_DIR = '__zt/sw-parts';

/** Builds every part into `<outDir>/__zt/sw-parts/<name>.<hash>.js`. */
export async function buildWorkerParts(outDir: string): Promise<BuiltPart[]> {
  const dir = resolve(outDir, PARTS_DIR);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const parts: BuiltPart[] = [];
  for (const { name, module } of WORKER_PARTS) {
    const global = `__ztPart_${name}`;
    const result = (await build({
      configFile: false,
      logLevel: 'warn',
      publicDir: false,
      plugins: [reExport(module)],
      define: { 'process.env.NODE_ENV': JSON.stringify('production') },
      build: {
        outDir: dir,
        emptyOutDir: false,
        sourcemap: true,
        target: 'es2022',
        // Rolldown's constant inlining would copy tldts's 68 KB string of suffix labels into each
        // place that reads it: the cookie part fell from 298 KB to 159 KB without it.
        rolldownOptions: { optimization: { inlineConst: false } },
        lib: {
          entry: ENTRY,
          formats: ['iife'],
          name: global,
          fileName: () => `${name}.js`,
        },
      },
    })) as Rolldown.RolldownOutput | Rolldown.RolldownOutput[];
    const entry = (Array.isArray(result) ? result[0]! : result).output[0];
    // Named by its content; its source-map comment follows the new name.
    const built = resolve(dir, `${name}.js`);
    const code = withoutSourceMapComment(await readFile(built, 'utf8'));
    const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
    const file = `${name}.${hash}.js`;
    await writeFile(resolve(dir, file), `${code}//# sourceMappingURL=${file}.map\n`);
    await rm(built);
    await rename(`${built}.map`, resolve(dir, `${file}.map`));
    parts.push({ name, module, url: `/${PARTS_DIR}/${file}`, global, exports: [...entry.exports] });
  }
  return parts;
}

/** A name no file has (Vite's library mode takes the entry for a path). */
const ENTRY = '/zt-worker-part-entry.js';

/**
 * A part's entry: the library's module as the browser build resolves it (its `browser` and ES
 * module exports, not what Node would load), re-exported whole.
 */
function reExport(module: string): Plugin {
  return {
    name: 'zt-worker-part-entry',
    enforce: 'pre',
    resolveId: (id) => (id === ENTRY ? ENTRY : undefined),
    load: (id) => (id === ENTRY ? `export * from ${JSON.stringify(module)};\n` : undefined),
  };
}

/** The module that stands in for a part's library inside `sw.js`. */
export function partStandIn(part: BuiltPart, workerPartsModule: string): string {
  const named = part.exports.filter((e) => e !== 'default');
  const lines = [
    `import { importPart as __ztImportPart } from ${JSON.stringify(workerPartsModule)};`,
    `const __ztPart = __ztImportPart(${JSON.stringify(part.name)});`,
    ...named.map((e) => {
      if (!/^[A-Za-z_$][\w$]*$/.test(e)) throw new Error(`${part.module} exports "${e}"`);
      return `export const ${e} = __ztPart[${JSON.stringify(e)}];`;
    }),
  ];
  if (part.exports.includes('default')) lines.push('export default __ztPart.default;');
  return `${lines.join('\n')}\n`;
}

/** Resolves each part's library to its stand-in (the SW build only). */
export function workerPartsPlugin(parts: BuiltPart[], workerPartsModule: string): Plugin {
  const PREFIX = '\0zt-worker-part:';
  return {
    name: 'zt-worker-parts',
    apply: 'build',
    enforce: 'pre', // before Vite resolves the package itself
    resolveId(id) {
      const part = parts.find((p) => p.module === id);
      return part ? PREFIX + part.name : undefined;
    },
    load(id) {
      if (!id.startsWith(PREFIX)) return undefined;
      const part = parts.find((p) => PREFIX + p.name === id)!;
      return partStandIn(part, workerPartsModule);
    },
  };
}

/** What the worker needs to know of its parts (`__ZT_WORKER_PARTS__`). */
export function partsManifest(parts: BuiltPart[]): Record<string, { url: string; global: string }> {
  return Object.fromEntries(parts.map((p) => [p.name, { url: p.url, global: p.global }]));
}

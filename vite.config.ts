import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { defineConfig, type Plugin, type UserConfig } from 'vite';
import { libsodiumModulePath, libsodiumWasm, withoutEmbeddedWasm } from './build/libsodium-wasm.ts';
import { withoutSourceMapComment } from './build/source-map.ts';
import {
  buildWorkerParts,
  PARTS_DIR,
  partsManifest,
  workerPartsPlugin,
} from './build/worker-parts.ts';

/**
 * Four builds into one `dist/`, selected by `--mode`:
 *   (default) the bootstrap page  -> dist/index.html + dist/__zt/assets/*, and the status page
 *                                    -> dist/__zt/status.html
 *   sw                            -> dist/sw.js (scope `/` needs it at the root; built last, it
 *                                    precaches the files of the other builds)
 *   shim                          -> dist/__zt/shim.js
 *   http-auth                     -> dist/__zt/http-auth.js (the script of the worker's HTTP sign-in
 *                                    page, which the SW build inlines into that page)
 *   inject                        -> dist/__zt/bootstrap.js (what a reverse proxy injects into HTML)
 * The default build also writes libsodium's WebAssembly to dist/__zt/sodium.wasm, and the SW build
 * leaves libsodium's embedded copy out of sw.js (the worker takes the file from its precache).
 * The SW build first builds the worker's parts (build/worker-parts.ts: libraries it imports on
 * first use) into dist/__zt/sw-parts/.
 * The service worker, the shim, http-auth.js and bootstrap.js are single classic scripts (IIFE) with every import inlined: a
 * service worker must load on its own, and the shim runs before any app script.
 */
const root = import.meta.dirname;

/** Single-file IIFE builds share everything but the entry and the output name. */
function singleScript(entry: string, fileName: string, name: string): UserConfig {
  return {
    publicDir: false,
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
    build: {
      outDir: resolve(root, 'dist'),
      emptyOutDir: false,
      sourcemap: true,
      target: 'es2022',
      lib: { entry: resolve(root, entry), formats: ['iife'], name, fileName: () => fileName },
    },
  };
}

/**
 * The bootstrap page is also served as `/__zt/index.html`: the service worker fetches it from there when
 * a navigation needs a login, because every other path of the origin belongs to the dark app. The
 * status page lives only under the prefix (`/__zt/status.html`, which the worker serves as
 * `/__zt/status`); its asset URLs are absolute, so the file can move.
 */
const bootstrapUnderReservedPrefix: Plugin = {
  name: 'zt-bootstrap-copy',
  apply: 'build',
  async writeBundle(options) {
    const out = options.dir ?? resolve(root, 'dist');
    await mkdir(resolve(out, '__zt'), { recursive: true });
    await copyFile(resolve(out, 'index.html'), resolve(out, '__zt/index.html'));
    await rename(resolve(out, 'status.html'), resolve(out, '__zt/status.html'));
  },
};

/** Where the worker finds libsodium's WebAssembly (precached, so its revision follows its bytes). */
const SODIUM_WASM = '/__zt/sodium.wasm';

const sodiumWasmFile: Plugin = {
  name: 'zt-sodium-wasm-file',
  apply: 'build',
  async writeBundle(options) {
    const out = options.dir ?? resolve(root, 'dist');
    await mkdir(resolve(out, '__zt'), { recursive: true });
    await writeFile(resolve(out, SODIUM_WASM.slice(1)), libsodiumWasm());
  },
};

const libsodiumModule = libsodiumModulePath();
const sodiumWithoutEmbeddedWasm: Plugin = {
  name: 'zt-sodium-without-embedded-wasm',
  apply: 'build',
  transform(code, id) {
    if (resolve(id.split('?')[0]!) !== libsodiumModule) return undefined;
    return { code: withoutEmbeddedWasm(code), map: null };
  },
};

/**
 * The service worker's precache list: every file of ours under `dist/__zt/` with a content revision
 * (source maps, the operator's config.json and the worker's parts excepted: the browser keeps
 * those with the worker). The SW is built last, so the list is complete.
 */
function precacheManifest(): { url: string; revision: string; integrity?: string }[] {
  const dir = resolve(root, 'dist/__zt');
  if (!existsSync(dir)) throw new Error('build the page, shim and bootstrap.js before the SW');
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.map') && e.name !== 'config.json')
    .map((e) => {
      const file = resolve(e.parentPath, e.name);
      const url = `/${relative(resolve(root, 'dist'), file).split('\\').join('/')}`;
      return { file, url };
    })
    .filter(({ url }) => !url.startsWith(`/${PARTS_DIR}/`))
    .map(({ file, url }) => {
      const bytes = readFileSync(file);
      const revision = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
      if (url !== SODIUM_WASM) return { url, revision };
      // Code the worker runs: the precache checks it against the hash this build saw.
      const integrity = `sha256-${createHash('sha256').update(bytes).digest('base64')}`;
      return { url, revision, integrity };
    })
    .sort((a, b) => a.url.localeCompare(b.url));
}

/** The HTTP sign-in page's script, without its source-map comment: the page loads nothing. */
function httpAuthScript(): string {
  const file = resolve(root, 'dist/__zt/http-auth.js');
  if (!existsSync(file)) throw new Error('build http-auth.js before the SW');
  return withoutSourceMapComment(readFileSync(file, 'utf8'));
}

export default defineConfig(async ({ mode }): Promise<UserConfig> => {
  if (mode === 'sw') {
    const parts = await buildWorkerParts(resolve(root, 'dist'));
    const config = singleScript('sw/sw.ts', 'sw.js', 'ztServiceWorker');
    config.define = {
      ...config.define,
      __ZT_PRECACHE__: JSON.stringify(precacheManifest()),
      __ZT_HTTP_AUTH_SCRIPT__: JSON.stringify(httpAuthScript()),
      __ZT_SODIUM_WASM__: JSON.stringify(SODIUM_WASM),
      __ZT_WORKER_PARTS__: JSON.stringify(partsManifest(parts)),
    };
    config.plugins = [
      sodiumWithoutEmbeddedWasm,
      workerPartsPlugin(parts, resolve(root, 'sw/worker-parts.ts')),
    ];
    return config;
  }
  if (mode === 'shim') return singleScript('bootstrap/shim.ts', '__zt/shim.js', 'ztShim');
  if (mode === 'http-auth')
    return singleScript('bootstrap/http-auth.ts', '__zt/http-auth.js', 'ztHttpAuth');
  if (mode === 'inject')
    return singleScript('bootstrap/inject.ts', '__zt/bootstrap.js', 'ztBootstrap');
  return {
    root: resolve(root, 'bootstrap'),
    publicDir: resolve(root, 'public'),
    plugins: [bootstrapUnderReservedPrefix, sodiumWasmFile],
    build: {
      outDir: resolve(root, 'dist'),
      emptyOutDir: true,
      assetsDir: '__zt/assets',
      sourcemap: true,
      target: 'es2022',
      rolldownOptions: {
        input: {
          index: resolve(root, 'bootstrap/index.html'),
          status: resolve(root, 'bootstrap/status.html'),
        },
      },
    },
  };
});

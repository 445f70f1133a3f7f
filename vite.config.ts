import { copyFile, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { defineConfig, type Plugin, type UserConfig } from 'vite';

/**
 * Four builds into one `dist/`, selected by `--mode`:
 *   (default) the bootstrap page  -> dist/index.html + dist/__zt/assets/*
 *   sw                            -> dist/sw.js (scope `/` needs it at the root)
 *   shim                          -> dist/__zt/shim.js
 *   inject                        -> dist/__zt/bootstrap.js (what a reverse proxy injects into HTML)
 * The service worker, the shim and bootstrap.js are single classic scripts (IIFE) with every import inlined: a
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
 * a navigation needs a login, because every other path of the origin belongs to the dark app.
 */
const bootstrapUnderReservedPrefix: Plugin = {
  name: 'zt-bootstrap-copy',
  apply: 'build',
  async writeBundle(options) {
    const out = options.dir ?? resolve(root, 'dist');
    await mkdir(resolve(out, '__zt'), { recursive: true });
    await copyFile(resolve(out, 'index.html'), resolve(out, '__zt/index.html'));
  },
};

export default defineConfig(({ mode }): UserConfig => {
  if (mode === 'sw') return singleScript('sw/sw.ts', 'sw.js', 'ztServiceWorker');
  if (mode === 'shim') return singleScript('bootstrap/shim.ts', '__zt/shim.js', 'ztShim');
  if (mode === 'inject')
    return singleScript('bootstrap/inject.ts', '__zt/bootstrap.js', 'ztBootstrap');
  return {
    root: resolve(root, 'bootstrap'),
    publicDir: resolve(root, 'public'),
    plugins: [bootstrapUnderReservedPrefix],
    build: {
      outDir: resolve(root, 'dist'),
      emptyOutDir: true,
      assetsDir: '__zt/assets',
      sourcemap: true,
      target: 'es2022',
    },
  };
});

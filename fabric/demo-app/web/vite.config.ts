import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/** The demo app's chat UI: served by the app under /static/, its HTML for every other page. */
export default defineConfig({
  root: import.meta.dirname,
  base: '/static/',
  publicDir: resolve(import.meta.dirname, 'public'),
  build: {
    outDir: resolve(import.meta.dirname, 'dist'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: true,
    target: 'es2022',
    // One script file: the page's CSP allows 'self' scripts only, never inline ones.
    modulePreload: { polyfill: false },
  },
});

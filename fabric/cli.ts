/**
 * `npm start`: serves the browser build on http://localhost:8080/ (flags: --host, --port, --root).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { serveStaticSite } from './static-site.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.ZT_HOST ?? 'localhost' },
    port: { type: 'string', default: process.env.ZT_PORT ?? '8080' },
    root: { type: 'string', default: resolve(import.meta.dirname, '../dist') },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`error: --port must be an integer 0-65535, got "${values.port}"`);
  process.exit(2);
}
if (!existsSync(resolve(values.root, 'index.html'))) {
  console.error(`error: no build in ${values.root}; run \`npm run build\` first`);
  process.exit(2);
}

try {
  const server = await serveStaticSite({ root: values.root, host: values.host, port });
  const address = server.address();
  const shownPort = typeof address === 'object' && address ? address.port : port;
  console.log(`Open http://${values.host}:${shownPort}/`);
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (err) {
  const code = (err as NodeJS.ErrnoException).code;
  console.error(
    code === 'EADDRINUSE'
      ? `error: ${values.host}:${port} is already in use; stop the other server or pass --port`
      : `error: ${(err as Error).message}`,
  );
  process.exit(1);
}

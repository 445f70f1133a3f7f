/** Test helper: a whole fabric on 127.0.0.1 with ephemeral ports, a temp data dir and a test app. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFabricConfig } from '../config.ts';
import { type RunningFabric, type StartFabricOptions, startFabric } from '../fabric.ts';
import { createLogger } from '../log.ts';
import { startTestApp } from './test-app.ts';

export const TEST_USER = { name: 'developer', password: 'zt-dev-password' };

export function testConfigInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataDir: mkdtempSync(join(tmpdir(), 'zt-fabric-')),
    trustDomain: 'zt-test',
    advertiseHost: '127.0.0.1',
    site: { host: '127.0.0.1', port: 0 },
    controller: { host: '127.0.0.1', port: 0 },
    idp: { host: '127.0.0.1', port: 0 },
    router: { name: 'er-test', host: '127.0.0.1', wssPort: 0, tlsPort: 0 },
    demoApp: { host: '127.0.0.1', port: 0 },
    ...overrides,
  };
}

export async function startTestFabric(
  overrides: Record<string, unknown> = {},
  extra: Partial<StartFabricOptions> = {},
): Promise<RunningFabric> {
  const config = parseFabricConfig(testConfigInput(overrides));
  return startFabric({
    config,
    log: createLogger((process.env.ZT_TEST_LOG as 'debug' | undefined) ?? 'silent'),
    startApp: async ({ host }) => {
      const app = await startTestApp(host);
      return { host, port: app.port, close: app.close };
    },
    ...extra,
  });
}

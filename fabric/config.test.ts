import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONFIG_INPUT,
  FabricConfigError,
  loadFabricConfigFile,
  parseFabricConfig,
} from './config.ts';

describe('fabric config', () => {
  it('the documented example is valid and equals the built-in defaults', () => {
    const example = loadFabricConfigFile(join(import.meta.dirname, 'fabric.example.yaml'));
    const defaults = parseFabricConfig(DEFAULT_CONFIG_INPUT);
    expect({ ...example, dataDir: '' }).toEqual({ ...defaults, dataDir: '' });
    expect(example.identities.map((i) => i.id)).toEqual(['id-developer', 'id-tunneler']);
  });

  it('fills defaults for an empty file', () => {
    const c = parseFabricConfig({});
    expect(c.controller.port).toBe(1280);
    expect(c.controller.apiSessionTimeoutSeconds).toBe(1800);
    expect(c.controller.sessionCertValiditySeconds).toBe(12 * 3600);
    expect(c.router.wssPort).toBe(3023);
    expect(c.router.devPlainWsPort).toBeNull();
    expect(c.services[0]!.encryptionRequired).toBe(true);
  });

  it('has no plain ws listener unless the dev-only devPlainWsPort is set; wsPort is gone', () => {
    expect(parseFabricConfig({ router: { devPlainWsPort: 3024 } }).router.devPlainWsPort).toBe(
      3024,
    );
    expect(() => parseFabricConfig({ router: { wsPort: 3023 } })).toThrow(
      /router\.wsPort: removed: a real router has no plain ws listener/,
    );
  });

  it('reports every problem with its path', () => {
    let err: unknown;
    try {
      parseFabricConfig({
        site: { port: 'eighty' },
        identities: [{ name: 'ab', password: 'x' }, { name: 'ab' }],
        services: [{ name: 'svc', hosting: 'cloud', configs: {} }],
        policies: [{ type: 'Both', identityRoles: ['users'], serviceRoles: [] }],
        tunnelerIdentity: 'nobody',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FabricConfigError);
    const problems = (err as FabricConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        'site.port: expected an integer 0-65535',
        'identities[0].password: must be 5-100 characters (the controller API limit)',
        'identities[0].name: a password identity name (username) must be 4-100 characters',
        'identities[1].name: duplicate identity "ab"',
        'services[0].hosting: expected "tunneler" or "router"',
        'services[0].configs["host.v1"]: required unless target is "demo-app"',
        'policies[0].type: expected "Dial" or "Bind"',
        'policies[0]: role "users" must start with # or @',
        'tunnelerIdentity: no identity named "nobody"',
      ]),
    );
  });
});

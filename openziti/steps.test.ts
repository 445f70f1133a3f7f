import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type Argv,
  hostIdentitySteps,
  PRODUCTION_EXAMPLE as n,
  personStep,
  routerConfigYaml,
  routerStep,
  serviceSteps,
  shellLine,
  signerSteps,
} from './steps.ts';

/** docs/production.md prints the commands the real-network harness runs; these tests keep it so. */
const guide = readFileSync(join(import.meta.dirname, '../docs/production.md'), 'utf8');
const guideLines = guide.split('\n');

/** The `ziti` lines of the guide's shell blocks. */
const guideCommands = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split('\n'))
  .filter((line) => line.startsWith('ziti '));

const { signer, authPolicy } = signerSteps(n);
const STEPS: Argv[] = [
  signer,
  authPolicy,
  personStep(n, 'alice', 'alice@example.com'),
  ...serviceSteps(n),
  routerStep(n, 'er1.jwt'),
  ...hostIdentitySteps(n, 'chat-host.jwt', 'chat-host.json'),
];

const routerDir = `/etc/ziti/${n.router}`;
const routerConfig = `${routerDir}/config.yml`;
/** Commands network.ts runs with arguments of its own (paths, `--cliagent=false`), as in the guide. */
const HARNESS_COMMANDS: Argv[] = [
  ['router', 'enroll', routerConfig, '--jwt', 'er1.jwt'],
  ['router', 'run', routerConfig],
  ['tunnel', 'host', '--identity', 'chat-host.json'],
];

const PRODUCTION_ROUTER_YAML = routerConfigYaml({
  dir: routerDir,
  controller: 'ctrl.example.com:6262',
  listenHost: '0.0.0.0',
  advertiseHost: 'er1.example.com',
  wssAdvertiseHost: 'er1-wss.example.com',
  tlsPort: 3022,
  wssPort: 3023,
  altServerCert: {
    cert: '/etc/letsencrypt/live/er1-wss.example.com/fullchain.pem',
    key: '/etc/letsencrypt/live/er1-wss.example.com/privkey.pem',
  },
  csrSans: { dns: ['localhost', 'er1.example.com'], ip: ['127.0.0.1'] },
});

describe('docs/production.md', () => {
  it.each(STEPS.map((argv) => [shellLine(argv)]))('prints `%s` as a line of its own', (line) => {
    expect(guideLines).toContain(line);
  });

  it('prints no other ziti command in its shell blocks', () => {
    const known = new Set([...STEPS, ...HARNESS_COMMANDS].map(shellLine));
    expect(guideCommands.length).toBeGreaterThan(STEPS.length);
    expect(guideCommands.filter((line) => !known.has(line))).toEqual([]);
  });

  it('prints the router config file routerConfigYaml renders', () => {
    const listeners = PRODUCTION_ROUTER_YAML.slice(PRODUCTION_ROUTER_YAML.indexOf('listeners:'));
    expect(guide).toContain(listeners);
    expect(guide).toContain(`\`\`\`yaml\n${PRODUCTION_ROUTER_YAML}\`\`\``);
  });

  it('gives the wss listener a DNS name outside the enrollment SANs, so browsers get the alt cert', () => {
    const config = parse(PRODUCTION_ROUTER_YAML) as {
      identity: { alt_server_certs?: unknown[] };
      listeners: { address: string; options: { advertise: string } }[];
      edge: { csr: { sans: { dns: string[]; ip: string[] } } };
    };
    const host = (scheme: string) =>
      config.listeners
        .find((l) => l.address.startsWith(`${scheme}:`))!
        .options.advertise.replace(/:\d+$/, '');
    const sans = [...config.edge.csr.sans.dns, ...config.edge.csr.sans.ip];
    expect(config.identity.alt_server_certs).toHaveLength(1);
    expect(isIP(host('wss'))).toBe(0);
    expect(sans).not.toContain(host('wss'));
    expect(sans).toContain(host('tls'));
  });
});

describe('shellLine', () => {
  it('quotes a word that would start a shell comment, and JSON', () => {
    expect(shellLine(['edge', 'x', '--service-roles', '#chat', 'a#b', '{"a":1}'])).toBe(
      `ziti edge x --service-roles '#chat' a#b '{"a":1}'`,
    );
  });
});

describe('routerConfigYaml', () => {
  it('defaults to one advertised host and loopback SANs (the harness)', () => {
    const yaml = routerConfigYaml({
      dir: '/d',
      controller: '127.0.0.1:1',
      listenHost: '127.0.0.1',
      advertiseHost: '127.0.0.1',
      tlsPort: 2,
      wssPort: 3,
    });
    expect(yaml).toContain('      advertise: 127.0.0.1:3\n');
    expect(yaml).toContain('      dns: [localhost]\n      ip: ["127.0.0.1"]\n');
    expect(yaml).not.toContain('alt_server_certs');
  });
});

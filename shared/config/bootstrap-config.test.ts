import { describe, expect, it } from 'vitest';
import { ConfigError, loadBootstrapConfig, parseBootstrapConfig } from './bootstrap-config.ts';

describe('parseBootstrapConfig', () => {
  it('accepts the minimal config and applies defaults', () => {
    expect(
      parseBootstrapConfig({
        controller: 'https://ctrl.example.com:1280/',
        service: ' mattermost ',
      }),
    ).toEqual({
      controller: 'https://ctrl.example.com:1280',
      service: 'mattermost',
      extraIntercepts: [],
      upstreamHost: 'public',
      controllerAuth: 'auto',
    });
  });

  it('takes controllerAuth auto, oidc or legacy and refuses anything else', () => {
    const base = { controller: 'https://ctrl.example.com', service: 'demo' };
    for (const mode of ['auto', 'oidc', 'legacy'] as const)
      expect(parseBootstrapConfig({ ...base, controllerAuth: mode }).controllerAuth).toBe(mode);
    expect(() => parseBootstrapConfig({ ...base, controllerAuth: 'OIDC' })).toThrow(
      /"controllerAuth" must be "auto", "oidc" or "legacy", got "OIDC"/,
    );
  });

  it('reports every problem by field', () => {
    let error: unknown;
    try {
      parseBootstrapConfig({
        controller: 'ftp://x',
        extraIntercepts: ['ok.example:80', 'bad host'],
        upstreamHost: 'x',
        colour: 1,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('unknown field "colour"');
    expect(message).toContain('"controller" must be an http(s) URL');
    expect(message).toContain('"service" is required');
    expect(message).toContain('"extraIntercepts[1]"');
    expect(message).toContain('"upstreamHost" must be');
  });

  it('allows plain ws routers only when devAllowPlainWs is true', () => {
    const base = { controller: 'http://localhost:1280', service: 'demo' };
    expect(parseBootstrapConfig(base)).not.toHaveProperty('devAllowPlainWs');
    expect(parseBootstrapConfig({ ...base, devAllowPlainWs: false })).not.toHaveProperty(
      'devAllowPlainWs',
    );
    expect(parseBootstrapConfig({ ...base, devAllowPlainWs: true }).devAllowPlainWs).toBe(true);
    expect(() => parseBootstrapConfig({ ...base, devAllowPlainWs: 'yes' })).toThrow(
      /"devAllowPlainWs" must be true or false/,
    );
  });

  it('rejects non-objects', () => {
    expect(() => parseBootstrapConfig([])).toThrow(ConfigError);
    expect(() => parseBootstrapConfig('x')).toThrow(/JSON object/);
  });
});

describe('loadBootstrapConfig', () => {
  it('turns HTTP and JSON failures into config errors', async () => {
    await expect(
      loadBootstrapConfig(async () => new Response('nope', { status: 404 })),
    ).rejects.toThrow(/HTTP 404/);
    await expect(loadBootstrapConfig(async () => new Response('{'))).rejects.toThrow(
      /not valid JSON/,
    );
    await expect(
      loadBootstrapConfig(async () =>
        Response.json({ controller: 'http://127.0.0.1:1280', service: 'app' }),
      ),
    ).resolves.toMatchObject({ service: 'app' });
  });
});

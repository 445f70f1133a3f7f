import { describe, expect, it } from 'vitest';
import { guardServiceWorkerRegister } from './register-guard.ts';

const PAGE = 'https://chat.example.com/team/channel?x=1';

/** Our real registration, as the browser would hand it over. */
function ours() {
  const calls: string[] = [];
  return {
    calls,
    registration: {
      scope: 'https://chat.example.com/',
      active: { scriptURL: 'https://chat.example.com/sw.js' },
      waiting: null,
      installing: null,
    },
  };
}

function setup() {
  const real = ours();
  const logs: string[] = [];
  const unregistered: unknown[] = [];
  const proto = {
    unregister(this: unknown): Promise<boolean> {
      unregistered.push(this);
      return Promise.resolve(true);
    },
  };
  const container = {
    register: () => Promise.resolve(real.registration),
    getRegistration: () => Promise.resolve(real.registration),
    getRegistrations: () => Promise.resolve([real.registration]),
    get ready() {
      return Promise.resolve(real.registration);
    },
  } as unknown as ServiceWorkerContainer;
  guardServiceWorkerRegister(container, {
    pageUrl: () => PAGE,
    registrationPrototype: proto,
    log: (m) => logs.push(m),
  });
  return { container, logs, proto, real, unregistered };
}

const settled = async <T>(p: Promise<T>) =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 20))]);

describe('guardServiceWorkerRegister', () => {
  it('register() registers nothing and gives an inert registration for the scope asked for', async () => {
    const { container, logs } = setup();
    const reg = await container.register('/app-sw.js', { scope: '/team/' });
    expect(reg.scope).toBe('https://chat.example.com/team/');
    expect(reg.active?.scriptURL).toBe('https://chat.example.com/app-sw.js');
    expect(reg.installing).toBeNull();
    reg.active?.postMessage('ignored');
    expect(await reg.update()).toBe(reg);
    expect(await reg.pushManager.getSubscription()).toBeNull();
    await expect(reg.pushManager.subscribe()).rejects.toThrow('not available');
    expect(logs).toEqual([expect.stringMatching(/^\[zt\] .*\/app-sw\.js was not registered/)]);
  });

  it('registering the same scope again gives the same registration; the default scope is the script folder', async () => {
    const { container } = setup();
    const a = await container.register('/js/app-sw.js');
    const b = await container.register('/js/app-sw.js', { scope: '/js/' });
    expect(a.scope).toBe('https://chat.example.com/js/');
    expect(b).toBe(a);
  });

  it('getRegistrations() hands over only the inert registrations, never ours', async () => {
    const { container } = setup();
    expect(await container.getRegistrations()).toEqual([]);
    const reg = await container.register('/app-sw.js', { scope: '/' });
    expect(await container.getRegistrations()).toEqual([reg]);
  });

  it('getRegistration() matches the longest inert scope for the URL, or gives none', async () => {
    const { container } = setup();
    expect(await container.getRegistration()).toBeUndefined();
    const root = await container.register('/app-sw.js', { scope: '/' });
    const team = await container.register('/app-sw.js', { scope: '/team/' });
    expect(await container.getRegistration()).toBe(team);
    expect(await container.getRegistration('/other')).toBe(root);
    expect(await container.getRegistration('https://chat.example.com/team/x')).toBe(team);
  });

  it('unregister() of an inert registration forgets it', async () => {
    const { container, unregistered } = setup();
    const reg = await container.register('/app-sw.js', { scope: '/' });
    expect(await reg.unregister()).toBe(true);
    expect(await container.getRegistrations()).toEqual([]);
    expect(unregistered).toEqual([]);
  });

  it('ready waits until the app registered a worker for this page, then gives that inert one', async () => {
    const { container } = setup();
    expect(await settled(container.ready)).toBe('pending');
    await container.register('/app-sw.js', { scope: '/elsewhere/' });
    expect(await settled(container.ready)).toBe('pending');
    const reg = await container.register('/app-sw.js', { scope: '/' });
    expect(await settled(container.ready)).toBe(reg);
  });

  it('the prototype unregister() refuses our registration and passes any other through', async () => {
    const { proto, real, unregistered } = setup();
    expect(await proto.unregister.call(real.registration)).toBe(true);
    expect(unregistered).toEqual([]);
    const other = { active: { scriptURL: 'https://chat.example.com/app-sw.js' } };
    await proto.unregister.call(other);
    expect(unregistered).toEqual([other]);
  });

  it('says once that the app sees only its own registrations', async () => {
    const { container, logs, proto, real } = setup();
    await container.getRegistrations();
    await container.getRegistration();
    void container.ready;
    await proto.unregister.call(real.registration);
    expect(logs).toEqual([
      expect.stringMatching(/^\[zt\] the app asked for its service-worker registrations/),
    ]);
  });
});

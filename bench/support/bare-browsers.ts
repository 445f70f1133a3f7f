/**
 * Chromium and Firefox driven over their own protocols (DevTools, WebDriver BiDi) with nothing
 * observed: for the figures that Playwright's driving would distort.
 *
 * Playwright watches every page's network, and both browsers then keep what a person's browser
 * does not. Measured with 1 GiB through the product (2026-12-04): Firefox (ESR 153, whose BiDi
 * starts DevTools' network observer with no body size limit) keeps a copy of every response body
 * in its parent process, so its process tree grew with each download; Chromium's tree grew by the
 * size of every uploaded file (+1.1 GiB per 1 GiB upload) under Playwright and by under 90 MiB
 * without it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { browsers, chromiumArgs } from '../../e2e/browsers.ts';
import type { BenchBrowser } from './browsers.ts';
import { type DevTools, devtools } from './devtools.ts';
import type { BenchNetwork } from './network.ts';

const STARTUP_MS = 30_000;
const POLL_MS = 100;

/** One browser with one tab, and what the benchmarks do in it. */
export interface BareBrowser {
  /** The browser's main process. */
  readonly pid: number;
  /** Chromium's DevTools port (for the service worker's target). */
  readonly debuggingPort?: number;
  /**
   * Runs `fn(arg)` in the tab and returns its awaited result. As with Playwright's `evaluate`, `fn`
   * goes over as its source: it must not close over anything; `arg` and the result go as JSON.
   */
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  /** Opens `path` of the site and signs in at the IdP's form, until `ready` is in the app. */
  signIn(net: BenchNetwork, path: string, ready: string): Promise<void>;
  /** Opens `url` as it is (no sign-in), until `ready` is in its page. */
  open(url: string, ready: string): Promise<void>;
  /** Picks `file` in the file input matched by `selector`. */
  setInputFile(selector: string, file: string): Promise<void>;
  close(): Promise<void>;
}

export async function launchBareBrowser(name: BenchBrowser): Promise<BareBrowser> {
  const profile = await mkdtemp(join(tmpdir(), `bench-${name}-`));
  const [command, args, listening] =
    name === 'firefox'
      ? [
          browsers.firefox.path,
          ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port=0'],
          /WebDriver BiDi listening on (ws:\/\/\S+)/,
        ]
      : [
          browsers.chromium.path,
          [
            ...chromiumArgs,
            '--headless=new',
            '--remote-debugging-port=0',
            `--user-data-dir=${profile}`,
            'about:blank',
          ],
          /DevTools listening on (ws:\/\/\S+)/,
        ];
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start`)), STARTUP_MS);
      let log = '';
      child.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        const m = listening.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${log}`)));
    });
    return name === 'firefox'
      ? await BidiFirefox.open(child, profile, url)
      : await CdpChromium.open(child, profile, url);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}

/** The source of `fn` called with `arg` (JSON), evaluating to its awaited result as JSON. */
const callExpression = (fn: (arg: never) => unknown, arg: unknown) =>
  // tsx (esbuild's keepNames) wraps named inner functions in `__name(...)`: defined here.
  `(async (json) => { const __name = (f) => f; return JSON.stringify(await (${fn.toString()})(JSON.parse(json))); })(${JSON.stringify(JSON.stringify(arg ?? null))})`;

const fromJson = <R>(value: string | undefined): R =>
  value === undefined ? (undefined as R) : (JSON.parse(value) as R);

abstract class Driven implements BareBrowser {
  abstract readonly debuggingPort?: number;
  constructor(
    private readonly process: ChildProcess,
    private readonly profile: string,
  ) {}

  get pid(): number {
    return this.process.pid!;
  }

  abstract evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  abstract setInputFile(selector: string, file: string): Promise<void>;
  protected abstract navigate(url: string): Promise<void>;
  /** Asks the browser to quit; `close()` kills it if it has not after 10 s. */
  protected abstract quit(): Promise<void>;

  /** Polls `fn` in the tab until it returns true (errors while a page loads count as false). */
  private async waitFor<A>(what: string, fn: (arg: A) => boolean, arg: A) {
    const end = Date.now() + STARTUP_MS;
    while (Date.now() < end) {
      if (await this.evaluate(fn, arg).catch(() => false)) return;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  /** Waits until the tab is at `url` and `ready` is in its page. */
  private untilAt(url: string, ready: string) {
    return this.waitFor(
      url,
      ({ url, ready }) => location.href === url && document.querySelector(ready) !== null,
      { url, ready },
    );
  }

  async open(url: string, ready: string): Promise<void> {
    await this.navigate(url);
    await this.untilAt(url, ready);
  }

  async signIn(net: BenchNetwork, path: string, ready: string): Promise<void> {
    const appUrl = `${net.siteOrigin}${path}`;
    await this.navigate(appUrl);
    await this.waitFor(
      "the IdP's form",
      () => document.querySelector('input[name="username"]') !== null,
      null,
    );
    await this.evaluate((user) => {
      for (const [name, value] of [
        ['username', user.name],
        ['password', user.password],
      ]) {
        const input = document.querySelector<HTMLInputElement>(`input[name="${name}"]`)!;
        input.value = value!;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }
      document.querySelector<HTMLButtonElement>('button[type="submit"]')!.click();
    }, net.user);
    await this.untilAt(appUrl, ready);
  }

  async close(): Promise<void> {
    const exited = new Promise((r) => this.process.once('exit', r));
    if (this.process.exitCode === null && this.process.signalCode === null) {
      await this.quit().catch(() => {});
      const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.profile, { recursive: true, force: true });
  }
}

interface BidiReply {
  id?: number;
  type?: string;
  result?: Record<string, unknown>;
  error?: string;
  message?: string;
}

/** Firefox over WebDriver BiDi, subscribed to no events. */
class BidiFirefox extends Driven {
  readonly debuggingPort = undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, (reply: BidiReply) => void>();
  private context = '';

  private constructor(
    process: ChildProcess,
    profile: string,
    private readonly socket: WebSocket,
  ) {
    super(process, profile);
    socket.on('message', (data) => {
      const reply = JSON.parse(String(data)) as BidiReply;
      if (reply.id === undefined) return;
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
  }

  static async open(process: ChildProcess, profile: string, url: string): Promise<BidiFirefox> {
    const socket = new WebSocket(`${url}/session`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const ff = new BidiFirefox(process, profile, socket);
    // The fabric's router has a self-signed certificate, as in the Playwright contexts.
    await ff.send('session.new', { capabilities: { alwaysMatch: { acceptInsecureCerts: true } } });
    const tree = await ff.send('browsingContext.getTree', {});
    ff.context = (tree.contexts as { context: string }[])[0]!.context;
    return ff;
  }

  private send(method: string, params: object): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (reply) =>
        reply.type === 'error'
          ? reject(new Error(`${method}: ${reply.error}: ${reply.message}`))
          : resolve(reply.result ?? {}),
      );
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  async evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R> {
    const result = await this.send('script.evaluate', {
      expression: callExpression(fn, arg),
      target: { context: this.context },
      awaitPromise: true,
    });
    if (result.type === 'exception') {
      throw new Error((result.exceptionDetails as { text?: string }).text ?? 'script failed');
    }
    return fromJson<R>((result.result as { value?: string }).value);
  }

  protected async navigate(url: string) {
    await this.send('browsingContext.navigate', { context: this.context, url });
  }

  async setInputFile(selector: string, file: string): Promise<void> {
    const found = await this.send('script.evaluate', {
      expression: `document.querySelector(${JSON.stringify(selector)})`,
      target: { context: this.context },
      awaitPromise: false,
    });
    const sharedId = (found.result as { sharedId?: string }).sharedId;
    if (!sharedId) throw new Error(`no element ${selector}`);
    await this.send('input.setFiles', {
      context: this.context,
      element: { sharedId },
      files: [file],
    });
  }

  protected async quit() {
    await this.send('browser.close', {});
    this.socket.close();
  }
}

/** Chromium over the DevTools protocol, with no domain enabled but what a call needs. */
class CdpChromium extends Driven {
  private constructor(
    process: ChildProcess,
    profile: string,
    private readonly cdp: DevTools,
    private readonly session: string,
    readonly debuggingPort: number,
  ) {
    super(process, profile);
  }

  static async open(process: ChildProcess, profile: string, url: string): Promise<CdpChromium> {
    const cdp = await devtools(url);
    const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', {
      url: 'about:blank',
    });
    const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', {
      targetId,
      flatten: true,
    });
    return new CdpChromium(process, profile, cdp, sessionId, Number(new URL(url).port));
  }

  async evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R> {
    const r = await this.cdp.send<{
      result: { value?: string };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    }>(
      'Runtime.evaluate',
      { expression: callExpression(fn, arg), awaitPromise: true, returnByValue: true },
      this.session,
    );
    if (r.exceptionDetails) {
      throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
    }
    return fromJson<R>(r.result.value);
  }

  protected async navigate(url: string) {
    await this.cdp.send('Page.navigate', { url }, this.session);
  }

  async setInputFile(selector: string, file: string): Promise<void> {
    const { root } = await this.cdp.send<{ root: { nodeId: number } }>(
      'DOM.getDocument',
      {},
      this.session,
    );
    const { nodeId } = await this.cdp.send<{ nodeId: number }>(
      'DOM.querySelector',
      { nodeId: root.nodeId, selector },
      this.session,
    );
    if (!nodeId) throw new Error(`no element ${selector}`);
    await this.cdp.send('DOM.setFileInputFiles', { files: [file], nodeId }, this.session);
  }

  protected async quit() {
    await this.cdp.send('Browser.close');
    this.cdp.close();
  }
}

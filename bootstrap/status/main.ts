/**
 * The status page (`/__zt/status`): asks the service worker for a snapshot once a second
 * (shared/status/protocol.ts) and shows it; counts down expiries between answers; keeps the last
 * snapshot in IndexedDB so that a worker that does not answer, or a browser that is offline, still
 * shows the last state, marked as such.
 */
import { get, set } from 'idb-keyval';
import { ztStore } from '../../shared/identity/store.ts';
import type { StatusSnapshot } from '../../shared/status/protocol.ts';
import { diagnosticsReport } from '../../shared/status/redact.ts';
import { ratesOf, recentRequestRate } from '../../shared/status/throughput.ts';
import { BUILD_VERSION } from '../../shared/version.ts';
import { chartGeometry } from './chart.ts';
import { askWorker } from './client.ts';
import { ago, clockTime, countdown, formatBytes, formatDuration, formatRate } from './format.ts';

const POLL_MS = 1000;
const ASK_TIMEOUT_MS = 3000;
const LAST_KEY = 'status-last';
/** The stored copy is refreshed at most this often. */
const STORE_EVERY_MS = 5000;

let snapshot: StatusSnapshot | undefined;
/** The snapshot is the worker's answer of this poll (not one remembered from earlier). */
let fresh = false;
let problem: string | undefined;
let storedAt = 0;
let updateFound = false;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

type Child = Node | string | undefined | false;
function h(tag: string, props: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined && c !== false) el.append(c);
  return el;
}

function fillList(dl: HTMLElement, rows: [string, Child, string?][]): void {
  dl.replaceChildren(
    ...rows.flatMap(([term, value, id]) => [
      h('dt', {}, term),
      h('dd', id ? { 'data-field': id } : {}, value ?? '—'),
    ]),
  );
}

function renderState(now: number): void {
  const pill = $('state');
  const notice = $('notice');
  const offline = !navigator.onLine;
  let state: string;
  let text: string;
  if (!snapshot && problem) [state, text] = ['error', 'No status'];
  else if (!snapshot) [state, text] = ['loading', 'Loading…'];
  else if (!fresh) [state, text] = ['stale', `Last state, ${ago(snapshot.at, now)}`];
  else if (offline) [state, text] = ['offline', 'Offline'];
  else [state, text] = ['live', 'Live'];
  pill.dataset.state = state;
  pill.textContent = text;
  const lines: string[] = [];
  if (offline)
    lines.push(
      'This browser is offline: the secure network cannot be reached. It reconnects by itself when the network is back.',
    );
  if (!fresh && problem)
    lines.push(
      snapshot
        ? `${problem}. Showing the last state, from ${clockTime(snapshot.at)}.`
        : `${problem}.`,
    );
  notice.hidden = lines.length === 0;
  notice.textContent = lines.join(' ');
}

function renderWho(s: StatusSnapshot, now: number): void {
  const id = s.identity;
  if (!id) {
    fillList($('who'), [['Signed in', 'Nobody is signed in on this browser.']]);
    return;
  }
  const expiry = (at: number | undefined) =>
    at === undefined
      ? undefined
      : h('span', at < now ? { class: 'bad' } : {}, `${countdown(at, now)} (${clockTime(at)})`);
  fillList($('who'), [
    ['Identity', id.name, 'identity'],
    ['Controller', id.controller, 'controller'],
    ['Service', id.service],
    ['Identity provider', id.idp?.issuer ?? 'none (no IdP token kept)', 'idp'],
    ['Signer', id.signer ?? 'the controller’s first'],
    [
      'Session',
      id.sessionKind === 'oidc' ? 'OIDC (controller’s OpenID provider)' : 'legacy API session',
      'session',
    ],
    [
      id.sessionKind === 'oidc' ? 'Access token expires' : 'API session expires',
      expiry(id.apiSessionExpiresAt) ?? 'not known yet',
      'api-session',
    ],
    ...(id.tokenRefreshAt !== undefined
      ? [['Access token refresh', countdown(id.tokenRefreshAt, now)] as [string, Child]]
      : []),
    ['Certificate expires', expiry(id.certificateNotAfter), 'certificate'],
    ['Certificate renewal', countdown(id.certificateRenewalAt, now)],
    ['IdP token expires', id.idp ? expiry(id.idp.expiresAt) : undefined],
    ['State', id.expired ? h('span', { class: 'bad' }, 'expired: sign in again') : 'active'],
  ]);
}

function renderRouters(s: StatusSnapshot, now: number): void {
  const rows = s.routers.map((r) =>
    h(
      'tr',
      { 'data-url': r.url, 'data-state': r.state },
      h('td', {}, r.url),
      h(
        'td',
        { class: r.state === 'connected' ? 'good' : r.state === 'backing-off' ? 'bad' : '' },
        r.state,
        r.state === 'backing-off' && r.retryAt ? ` (retry ${countdown(r.retryAt, now)})` : '',
        r.connectedAt && r.state === 'connected'
          ? ` for ${formatDuration(now - r.connectedAt)}`
          : '',
      ),
      h(
        'td',
        { class: 'num latency' },
        r.latencyMs !== undefined ? `${r.latencyMs} ms` : '—',
        r.connectMs !== undefined
          ? h('span', { class: 'muted' }, ` (connect ${r.connectMs} ms)`)
          : '',
      ),
      h(
        'td',
        {},
        r.lastFailure
          ? `${r.lastFailure.kind}, ${ago(r.lastFailure.at, now)}: ${r.lastFailure.message}`
          : 'none',
        r.failures > 0 ? h('span', { class: 'bad' }, ` (${r.failures} in a row)`) : '',
      ),
    ),
  );
  const body = $('routers').querySelector('tbody')!;
  body.replaceChildren(
    ...(rows.length > 0
      ? rows
      : [h('tr', {}, h('td', { colspan: '4' }, 'No router connected yet.'))]),
  );
}

function renderTraffic(s: StatusSnapshot, now: number): void {
  const rates = ratesOf(s.throughput);
  const last = rates.at(-1);
  const circuits = s.services.reduce((n, svc) => n + svc.circuits.length, 0);
  fillList($('traffic-summary'), [
    ['Requests', `${recentRequestRate(s.throughput).toFixed(1)}/s`, 'requests'],
    ['Open circuits', String(circuits), 'circuits'],
    ['Open WebSockets', String(s.webSockets.length), 'websockets'],
    [
      'Now',
      h(
        'span',
        {},
        h('span', { class: 'legend-in' }, `▼ in ${formatRate(last?.inPerSec ?? 0)}`),
        '  ',
        h('span', { class: 'legend-out' }, `▲ out ${formatRate(last?.outPerSec ?? 0)}`),
      ),
    ],
  ]);
  const chart = chartGeometry(s.throughput, fresh ? now : s.at);
  const svg = $('chart');
  svg.querySelector('polyline.in')!.setAttribute('points', chart.inPoints);
  svg.querySelector('polyline.out')!.setAttribute('points', chart.outPoints);
  $('chart-caption').textContent =
    `Last 5 minutes, top of the scale ${formatRate(chart.maxPerSec)}. ` +
    `Totals: in ${formatBytes(s.services.reduce((n, x) => n + x.bytesIn, 0))}, ` +
    `out ${formatBytes(s.services.reduce((n, x) => n + x.bytesOut, 0))}.`;

  const rows = s.services.flatMap((svc) =>
    svc.circuits.map((c) =>
      h(
        'tr',
        { 'data-service': svc.name, 'data-conn': String(c.connId) },
        h('td', {}, svc.name),
        h(
          'td',
          { class: 'num' },
          `#${c.connId}`,
          c.encrypted ? ' (E2E)' : '',
          c.flowControlled ? ' (flow control)' : '',
        ),
        h('td', {}, c.router ?? '—'),
        h('td', { class: 'num' }, formatDuration(now - c.openedAt)),
        h('td', { class: 'num bytes-in', 'data-bytes': String(c.bytesIn) }, formatBytes(c.bytesIn)),
        h(
          'td',
          { class: 'num bytes-out', 'data-bytes': String(c.bytesOut) },
          formatBytes(c.bytesOut),
        ),
      ),
    ),
  );
  $('circuits')
    .querySelector('tbody')!
    .replaceChildren(
      ...(rows.length > 0
        ? rows
        : [h('tr', {}, h('td', { colspan: '6' }, 'No open circuit (idle connections close).'))]),
    );
  $('websockets').replaceChildren(
    ...s.webSockets.map((w) =>
      h('li', {}, `${w.url}, open for ${formatDuration(now - w.openedAt)}`),
    ),
  );
}

function renderFailures(s: StatusSnapshot, now: number): void {
  $('failures').replaceChildren(
    ...(s.failures.length > 0
      ? s.failures.map((f) => h('li', {}, `${ago(f.at, now)}: ${f.kind}: ${f.message}`))
      : [h('li', { class: 'muted' }, 'None since the worker started.')]),
  );
}

function renderWorker(s: StatusSnapshot, now: number): void {
  const w = s.worker;
  const waiting = w.updateWaiting || updateFound;
  fillList($('worker'), [
    ['Worker build', w.version, 'version'],
    ['This page’s build', BUILD_VERSION],
    [
      'Update',
      waiting
        ? h('span', { class: 'bad' }, 'a new version is waiting: reload the app')
        : w.version !== BUILD_VERSION
          ? h('span', { class: 'bad' }, 'the worker and this page differ: reload')
          : 'up to date',
      'update',
    ],
    ['Running for', formatDuration(now - w.startedAt)],
    ['Scope', w.scope],
    [
      'Storage',
      w.storage ? `${formatBytes(w.storage.usage)} of ${formatBytes(w.storage.quota)}` : undefined,
    ],
  ]);
  $('caches')
    .querySelector('tbody')!
    .replaceChildren(
      ...w.caches.map((c) =>
        h(
          'tr',
          {},
          h('td', {}, c.name),
          h('td', { class: 'num' }, String(c.entries)),
          h('td', { class: 'num' }, formatBytes(c.bytes)),
        ),
      ),
    );
}

function render(): void {
  const now = Date.now();
  renderState(now);
  if (!snapshot) return;
  renderWho(snapshot, now);
  renderRouters(snapshot, now);
  renderTraffic(snapshot, now);
  renderFailures(snapshot, now);
  renderWorker(snapshot, now);
}

async function poll(op: 'snapshot' | 'reconnect' = 'snapshot'): Promise<void> {
  const worker = navigator.serviceWorker?.controller;
  if (!worker) {
    fresh = false;
    problem = 'No service worker controls this page: sign in from the app first';
    return;
  }
  const reply = await askWorker(worker, op, op === 'reconnect' ? 20_000 : ASK_TIMEOUT_MS);
  if (reply.ok) {
    snapshot = reply.snapshot;
    fresh = true;
    problem = undefined;
    if (Date.now() - storedAt > STORE_EVERY_MS) {
      storedAt = Date.now();
      void set(LAST_KEY, reply.snapshot, ztStore()).catch(() => {});
    }
  } else {
    fresh = false;
    problem = reply.error;
  }
}

function report(): string {
  return diagnosticsReport(snapshot ?? null, {
    reportedAt: new Date().toISOString(),
    page: `${location.origin}${location.pathname}`,
    pageVersion: BUILD_VERSION,
    userAgent: navigator.userAgent,
    online: navigator.onLine,
    controlled: navigator.serviceWorker?.controller != null,
    snapshotIsLive: fresh,
    ...(problem ? { problem } : {}),
  });
}

function wireButtons(): void {
  const reconnect = $<HTMLButtonElement>('reconnect');
  reconnect.addEventListener('click', async () => {
    reconnect.disabled = true;
    reconnect.textContent = 'Reconnecting…';
    await poll('reconnect');
    reconnect.disabled = false;
    reconnect.textContent = 'Reconnect';
    render();
  });
  $('copy').addEventListener('click', async () => {
    const text = report();
    $('diagnostics').textContent = text;
    $<HTMLDetailsElement>('diagnostics-box').open = true;
    const button = $('copy');
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select the report below';
    }
    setTimeout(() => {
      button.textContent = 'Copy diagnostics';
    }, 3000);
  });
  $('signout').addEventListener('click', () => {
    location.assign('/__zt/index.html?logout=1');
  });
}

async function watchUpdates(): Promise<void> {
  const registration = await navigator.serviceWorker?.getRegistration('/');
  if (!registration) return;
  const check = () => {
    updateFound = registration.waiting !== null || registration.installing !== null;
  };
  check();
  registration.addEventListener('updatefound', check);
}

async function start(): Promise<void> {
  wireButtons();
  addEventListener('online', render);
  addEventListener('offline', render);
  const stored = await get<StatusSnapshot>(LAST_KEY, ztStore()).catch(() => undefined);
  if (stored) snapshot = stored;
  void watchUpdates().catch(() => {});
  for (;;) {
    await poll().catch((err: unknown) => {
      fresh = false;
      problem = err instanceof Error ? err.message : String(err);
    });
    render();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

void start();

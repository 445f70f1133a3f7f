import { describe, expect, it } from 'vitest';
import { Traffic } from './traffic.ts';

function conn(connId: number) {
  let close!: () => void;
  const closed = new Promise<void>((r) => {
    close = r;
  });
  return {
    conn: {
      connId,
      circuitId: `c${connId}`,
      encrypted: true,
      flowControlled: true,
      bytesIn: 0,
      bytesOut: 0,
    },
    closed,
    close,
  };
}

describe('Traffic', () => {
  it('reports open circuits per service with their live byte counts', () => {
    let now = 1000;
    const t = new Traffic(() => now);
    const a = conn(1);
    t.circuitOpened('app', a.conn, a.closed, 'router:443');
    t.request('app');
    a.conn.bytesIn = 500;
    a.conn.bytesOut = 20;
    now = 3000;
    const [svc] = t.services();
    expect(svc).toEqual({
      name: 'app',
      circuits: [
        {
          connId: 1,
          circuitId: 'c1',
          router: 'router:443',
          openedAt: 1000,
          bytesIn: 500,
          bytesOut: 20,
          encrypted: true,
          flowControlled: true,
        },
      ],
      bytesIn: 500,
      bytesOut: 20,
      requests: 1,
      circuitsOpened: 1,
    });
    expect(t.totals()).toEqual({ bytesIn: 500, bytesOut: 20, requests: 1 });
  });

  it('moves a closed circuit into its service totals', async () => {
    const t = new Traffic(() => 0);
    const a = conn(1);
    const b = conn(2);
    t.circuitOpened('app', a.conn, a.closed);
    t.circuitOpened('other', b.conn, b.closed);
    a.conn.bytesIn = 100;
    b.conn.bytesOut = 7;
    a.close();
    await a.closed;
    await Promise.resolve();
    const services = Object.fromEntries(t.services().map((s) => [s.name, s]));
    expect(services.app).toMatchObject({ circuits: [], bytesIn: 100, circuitsOpened: 1 });
    expect(services.other?.circuits).toHaveLength(1);
    expect(t.totals()).toEqual({ bytesIn: 100, bytesOut: 7, requests: 0 });
  });

  it('samples the totals into the throughput history when asked', () => {
    let now = 0;
    const t = new Traffic(() => now);
    const a = conn(1);
    t.circuitOpened('app', a.conn, a.closed); // samples at 0
    a.conn.bytesIn = 2048;
    now = 2000;
    t.sample();
    expect(t.throughput()).toEqual([
      [0, 0, 0, 0],
      [2000, 2048, 0, 0],
    ]);
  });

  it('counts WebSockets while open and keeps only origin and path', () => {
    const t = new Traffic(() => 5);
    const done = t.webSocketOpened('ws://app.example/api/v4/websocket?token=abc');
    expect(t.webSockets()).toEqual([{ url: 'ws://app.example/api/v4/websocket', openedAt: 5 }]);
    done();
    expect(t.webSockets()).toEqual([]);
  });
});

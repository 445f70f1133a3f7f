import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dialer, readAll } from './_test/node-duplex.ts';
import { HttpConnection } from './connection.ts';
import { HttpError } from './errors.ts';

const servers: (Server | NetServer)[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function httpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<number> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

/** A raw TCP server that answers every connection with `onSocket`. */
async function rawServer(onSocket: (s: Socket) => void): Promise<number> {
  const s = createNetServer((sock) => {
    sock.on('error', () => {}); // the client may reset on purpose
    onSocket(sock);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

async function open(port: number, opts = {}) {
  const duplex = await dialer(port)();
  return { conn: new HttpConnection(duplex, opts), duplex };
}

const text = async (s: ReadableStream<Uint8Array> | null) =>
  new TextDecoder().decode(await readAll(s));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const host = { Host: 'dark.example' };
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

function source(
  total: number,
  chunk = 16 * 1024,
  counter?: { pulled: number },
): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream(
    {
      pull(c) {
        if (sent >= total) return c.close();
        const n = Math.min(chunk, total - sent);
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = (sent + i) & 0xff;
        sent += n;
        if (counter) counter.pulled = sent;
        c.enqueue(b);
      },
    },
    { highWaterMark: 0 },
  );
}

describe('HttpConnection against Node http', () => {
  it('reuses one connection for sequential requests (keep-alive)', async () => {
    const ports: number[] = [];
    const port = await httpServer((req, res) => {
      ports.push(req.socket.remotePort!);
      res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
      res.end(`hello ${req.url} host=${req.headers.host}`);
    });
    const idle: HttpConnection[] = [];
    const { conn } = await open(port, { onIdle: (c: HttpConnection) => idle.push(c) });
    for (const path of ['/one', '/two?x=1']) {
      const res = await conn.request({ method: 'GET', target: path, headers: host });
      expect(res.status).toBe(200);
      expect(res.statusText).toBe('OK');
      expect(res.setCookies).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
      expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
      expect(await text(res.body)).toBe(`hello ${path} host=dark.example`);
      await tick(0);
      expect(conn.state).toBe('idle');
    }
    expect(ports[0]).toBe(ports[1]);
    expect(idle).toHaveLength(2);
    expect(conn.requestCount).toBe(2);
    conn.close();
  });

  it('is reusable as soon as the last body bytes are read', async () => {
    const port = await httpServer((_req, res) => res.end('exactly this'));
    const { conn } = await open(port);
    const res = await conn.request({ method: 'GET', target: '/', headers: host });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('exactly this');
    await tick(0);
    expect(conn.state).toBe('idle');
    expect((await reader.read()).done).toBe(true);
    conn.close();
  });

  it('reads chunked responses with trailers', async () => {
    const port = await httpServer((_req, res) => {
      res.writeHead(200, { Trailer: 'X-Checksum' });
      res.write('part1,');
      setTimeout(() => {
        res.write('part2');
        res.addTrailers({ 'X-Checksum': 'abc' });
        res.end();
      }, 10);
    });
    const { conn } = await open(port);
    const res = await conn.request({ method: 'GET', target: '/', headers: host });
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(await text(res.body)).toBe('part1,part2');
    expect((await res.trailers).get('x-checksum')).toBe('abc');
    conn.close();
  });

  it('sends byte bodies with Content-Length and stream bodies chunked or with a known length', async () => {
    const port = await httpServer(async (req, res) => {
      const body = await readAll(ReadableStreamFrom(req));
      res.end(
        JSON.stringify({
          te: req.headers['transfer-encoding'] ?? null,
          cl: req.headers['content-length'] ?? null,
          sha: sha(body),
          n: body.length,
        }),
      );
    });
    const { conn } = await open(port);
    const small = new TextEncoder().encode('x=1&y=2');
    let r = JSON.parse(
      await text(
        (await conn.request({ method: 'POST', target: '/', headers: host, body: small })).body,
      ),
    );
    expect(r).toEqual({ te: null, cl: '7', sha: sha(small), n: 7 });

    const total = 3 * 1024 * 1024 + 5;
    const expected = await readAll(source(total));
    const progress: number[] = [];
    r = JSON.parse(
      await text(
        (
          await conn.request({
            method: 'PUT',
            target: '/up',
            headers: host,
            body: source(total),
            onUploadProgress: (n) => progress.push(n),
          })
        ).body,
      ),
    );
    expect(r).toEqual({ te: 'chunked', cl: null, sha: sha(expected), n: total });
    expect(progress.at(-1)).toBe(total);
    expect(progress.every((v, i) => i === 0 || v > progress[i - 1]!)).toBe(true);

    r = JSON.parse(
      await text(
        (
          await conn.request({
            method: 'POST',
            target: '/up',
            headers: host,
            body: source(total),
            contentLength: total,
          })
        ).body,
      ),
    );
    expect(r).toEqual({ te: null, cl: String(total), sha: sha(expected), n: total });
    await tick(0);
    expect(conn.requestCount).toBe(3);
    expect(conn.state).toBe('idle');
    conn.close();
  });

  it('rejects a stream body that does not match its declared length', async () => {
    const port = await httpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const { conn } = await open(port);
    await expect(
      conn.request({
        method: 'POST',
        target: '/',
        headers: host,
        body: source(100),
        contentLength: 50,
      }),
    ).rejects.toMatchObject({ code: 'ERR_HTTP_BODY_LENGTH' });
    expect(conn.state).toBe('closed');
  });

  it('has no body for HEAD, 204 and 304 and stays reusable', async () => {
    const port = await httpServer((req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { ETag: '"x"' }).end();
      else
        res
          .writeHead(200, { 'Content-Length': '5' })
          .end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const { conn } = await open(port);
    for (const [method, target, status] of [
      ['HEAD', '/', 200],
      ['GET', '/204', 204],
      ['GET', '/304', 304],
      ['GET', '/', 200],
    ] as const) {
      const res = await conn.request({ method, target, headers: host });
      expect(res.status).toBe(status);
      if (method === 'HEAD' || status !== 200) expect(res.body).toBeNull();
      else expect(await text(res.body)).toBe('hello');
      await tick(0);
      expect(conn.state).toBe('idle');
    }
    expect(conn.requestCount).toBe(4);
    conn.close();
  });

  it('skips 100 Continue and 103 Early Hints', async () => {
    const port = await httpServer((_req, res) => {
      res.writeContinue();
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.end('final');
    });
    const { conn } = await open(port);
    const res = await conn.request({ method: 'GET', target: '/', headers: host });
    expect(res.status).toBe(200);
    expect(await text(res.body)).toBe('final');
    conn.close();
  });

  it('closes after Connection: close, and when the request asks for it', async () => {
    const port = await httpServer((req, res) => {
      if (req.url === '/bye') res.setHeader('Connection', 'close');
      res.end('x');
    });
    let closed = 0;
    const a = await open(port, { onClose: () => closed++ });
    await text((await a.conn.request({ method: 'GET', target: '/bye', headers: host })).body);
    await tick(0);
    expect(a.conn.state).toBe('closed');
    const b = await open(port, { onClose: () => closed++ });
    await text(
      (
        await b.conn.request({
          method: 'GET',
          target: '/',
          headers: { ...host, Connection: 'close' },
        })
      ).body,
    );
    await tick(0);
    expect(b.conn.state).toBe('closed');
    expect(closed).toBe(2);
  });

  it('notices a server closing an idle connection', async () => {
    // The server ends each connection shortly after the response, as a keep-alive timeout would.
    const s = createServer((req, res) => {
      res.on('finish', () => setTimeout(() => req.socket.end(), 30));
      res.end('x');
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    let closed = false;
    const { conn } = await open((s.address() as { port: number }).port, {
      onClose: () => {
        closed = true;
      },
    });
    await text((await conn.request({ method: 'GET', target: '/', headers: host })).body);
    await tick(0);
    expect(conn.state).toBe('idle');
    await tick(200);
    expect(closed).toBe(true);
    expect(conn.state).toBe('closed');
  });

  it('applies backpressure to the response body: nothing is read ahead of the consumer', async () => {
    let written = 0;
    const port = await httpServer((_req, res) => {
      const block = new Uint8Array(64 * 1024);
      const pump = () => {
        while (written < 512 * 1024 * 1024) {
          written += block.length;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const { conn } = await open(port);
    const res = await conn.request({ method: 'GET', target: '/', headers: host });
    const reader = res.body!.getReader();
    await reader.read();
    await tick(300);
    console.info(
      `response backpressure: server wrote ${written} bytes while the client read one chunk`,
    );
    // Bounded by socket buffers on both sides, far below the 512 MiB the server wants to send.
    expect(written).toBeLessThan(64 * 1024 * 1024);
    await reader.cancel();
    expect(conn.state).toBe('closed');
  });

  it('caps the backlog below a response only while its body is read', async () => {
    const port = await httpServer((req, res) =>
      res.end(req.url === '/big' ? 'x'.repeat(5000) : ''),
    );
    const duplex = await dialer(port)();
    const caps: (number | undefined)[] = [];
    const conn = new HttpConnection({ ...duplex, capBacklog: (n) => caps.push(n) });
    const big = await conn.request({ method: 'GET', target: '/big', headers: host });
    big.capBacklog!(1024);
    expect(caps).toEqual([1024]);
    expect(await text(big.body)).toHaveLength(5000);
    expect(caps).toEqual([1024, undefined]); // restored when the body ended
    big.capBacklog!(1024);
    expect(caps).toEqual([1024, undefined]); // too late: the connection may carry another request
    await tick(0);
    const empty = await conn.request({ method: 'GET', target: '/empty', headers: host });
    expect(empty.body).toBeNull();
    expect(empty.capBacklog).toBeUndefined(); // nothing to read, nothing to cap
    conn.close();
    const plain = await open(port);
    const res = await plain.conn.request({ method: 'GET', target: '/big', headers: host });
    expect(res.capBacklog).toBeUndefined(); // the stream below cannot
    await text(res.body);
    plain.conn.close();
  });

  it('applies backpressure to a streamed request body', async () => {
    const port = await httpServer((req) => {
      req.pause(); // never reads
    });
    const counter = { pulled: 0 };
    const { conn } = await open(port);
    const ac = new AbortController();
    const p = conn.request({
      method: 'POST',
      target: '/',
      headers: host,
      body: source(256 * 1024 * 1024, 64 * 1024, counter),
      signal: ac.signal,
    });
    await tick(300);
    expect(counter.pulled).toBeGreaterThan(0);
    expect(counter.pulled).toBeLessThan(64 * 1024 * 1024);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ERR_HTTP_ABORTED' });
    expect(conn.state).toBe('closed');
  });

  it('delivers an early response while the body is still streaming, then closes', async () => {
    const port = await httpServer((req, res) => {
      req.pause();
      res.writeHead(413, { 'Content-Length': '8' }).end('too big!');
    });
    const { conn } = await open(port);
    const res = await conn.request({
      method: 'POST',
      target: '/',
      headers: host,
      body: source(64 * 1024 * 1024),
    });
    expect(res.status).toBe(413);
    expect(await text(res.body)).toBe('too big!');
    await tick(20);
    expect(conn.state).toBe('closed');
  });

  it('upgrades: 101 then raw bytes both ways', async () => {
    const s = createServer();
    servers.push(s);
    let serverSide: { destroy(): void } | undefined;
    s.on('upgrade', (req, socket, head) => {
      serverSide = socket;
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\nwelcome;`,
      );
      if (head.length) socket.write(head);
      socket.on('data', (d) => socket.write(d.toString().toUpperCase()));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { conn } = await open((s.address() as { port: number }).port);
    const r = await conn.upgrade({
      method: 'GET',
      target: '/ws',
      headers: { ...host, Connection: 'Upgrade', Upgrade: 'x-test' },
    });
    expect(r.upgraded).toBe(true);
    if (!r.upgraded) return;
    expect(r.response.status).toBe(101);
    expect(conn.state).toBe('upgraded');
    const w = r.duplex.writable.getWriter();
    await w.write(new TextEncoder().encode('ping'));
    const reader = r.duplex.readable.getReader();
    let got = '';
    while (got.length < 'welcome;PING'.length)
      got += new TextDecoder().decode((await reader.read()).value);
    expect(got).toBe('welcome;PING');
    r.duplex.close();
    serverSide?.destroy();
  });

  it('returns the ordinary response when an upgrade is refused', async () => {
    const port = await httpServer((_req, res) => res.writeHead(426).end('no'));
    const { conn } = await open(port);
    const r = await conn.upgrade({
      method: 'GET',
      target: '/',
      headers: { ...host, Connection: 'upgrade', Upgrade: 'websocket' },
    });
    expect(r.upgraded).toBe(false);
    expect(r.response.status).toBe(426);
    expect(await text(r.response.body)).toBe('no');
    conn.close();
  });
});

describe('HttpConnection against raw sockets', () => {
  it('reads a close-delimited body and does not reuse the connection', async () => {
    const port = await rawServer((s) => {
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil');
        setTimeout(() => s.end(' close'), 10);
      });
    });
    const { conn } = await open(port);
    const res = await conn.request({ method: 'GET', target: '/', headers: host });
    expect(await text(res.body)).toBe('until close');
    await tick(0);
    expect(conn.state).toBe('closed');
  });

  const malformed: [string, string, string][] = [
    [
      'obs-fold',
      'HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n',
      'ERR_HTTP_PARSE',
    ],
    ['garbage', 'hello there\r\n\r\n', 'ERR_HTTP_PARSE'],
    [
      'huge head',
      `HTTP/1.1 200 OK\r\n${'X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(2000)}\r\n`,
      'ERR_HTTP_HEAD_TOO_LARGE',
    ],
    [
      'truncated body',
      'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort',
      'ERR_HTTP_CONNECTION_CLOSED',
    ],
    [
      'bad chunk',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX',
      'ERR_HTTP_PARSE',
    ],
  ];
  for (const [name, reply, code] of malformed) {
    it(`fails cleanly on ${name}`, async () => {
      const port = await rawServer((s) => {
        s.once('data', () => s.end(reply));
      });
      const { conn } = await open(port);
      let err: unknown;
      try {
        const res = await conn.request({ method: 'GET', target: '/', headers: host });
        await readAll(res.body);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).code).toBe(code);
      expect(conn.state).toBe('closed');
    });
  }

  it('reports a close before any response byte as beforeResponse', async () => {
    const port = await rawServer((s) => s.once('data', () => s.destroy()));
    const { conn } = await open(port);
    await expect(conn.request({ method: 'GET', target: '/', headers: host })).rejects.toMatchObject(
      {
        code: 'ERR_HTTP_CONNECTION_CLOSED',
        beforeResponse: true,
      },
    );
  });

  it('aborts a response body mid-stream via the signal', async () => {
    const port = await rawServer((s) =>
      s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc')),
    );
    const { conn } = await open(port);
    const ac = new AbortController();
    const res = await conn.request({
      method: 'GET',
      target: '/',
      headers: host,
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('abc');
    const next = reader.read();
    ac.abort();
    await expect(next).rejects.toMatchObject({ code: 'ERR_HTTP_ABORTED' });
    expect(conn.state).toBe('closed');
  });
});

function ReadableStreamFrom(req: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      req.on('data', (d: Buffer) => c.enqueue(new Uint8Array(d)));
      req.on('end', () => c.close());
      req.on('error', (e) => c.error(e));
    },
  });
}

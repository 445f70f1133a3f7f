import { describe, expect, it, vi } from 'vitest';
import { EventStreamParser, EventStreams } from './event-stream.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

/** The ids reported, feeding `chunks` one by one. */
function ids(chunks: (string | Uint8Array)[], start = ''): string[] {
  const seen: string[] = [];
  const parser = new EventStreamParser(start, (id) => seen.push(id));
  for (const c of chunks) parser.push(typeof c === 'string' ? bytes(c) : c);
  parser.end();
  return seen;
}

describe('EventStreamParser', () => {
  it('reports the last event id at each blank line, split on LF, CRLF and CR', () => {
    expect(ids(['id: 1\ndata: a\n\nid: 2\r\ndata: b\r\n\r\nid: 3\rdata: c\r\r'])).toEqual([
      '1',
      '2',
      '3',
    ]);
  });

  it('keeps a CRLF split across chunks as one line end, and lines split anywhere', () => {
    expect(ids(['id: 7\r', '\ndata: x\r', '\n\r', '\n'])).toEqual(['7']);
    expect(ids(['i', 'd:4', '2\nda', 'ta: y\n', '\n'])).toEqual(['42']);
    const euro = bytes('id: €1\n\n');
    expect(ids([euro.slice(0, 5), euro.slice(5)])).toEqual(['€1']);
  });

  it('an id counts only once its event is dispatched; an unfinished event at the end does not', () => {
    expect(ids(['id: 1\ndata: a\n\nid: 2\ndata: b\n'])).toEqual(['1']);
  });

  it('keeps the id across events without one, and the id the stream started from', () => {
    expect(ids(['data: a\n\nid: 5\n\ndata: b\n\n'], '3')).toEqual(['3', '5', '5']);
  });

  it('ignores an id with NUL, comments and other fields; takes "id" without colon as empty', () => {
    expect(ids(['id: 1\n\nid: 2\0x\n\n: id: 9\nidx: 8\n\n'])).toEqual(['1', '1', '1']);
    expect(ids(['id: 1\n\nid\n\n'])).toEqual(['1', '']);
    expect(ids(['id:1\n\nid:  2\n\n'])).toEqual(['1', ' 2']);
  });

  it('drops one leading byte-order mark', () => {
    expect(ids(['\uFEFFid: 1\n\n'])).toEqual(['1']);
  });
});

const PAGE = 'client-1';
const URL_ = 'https://app.test/events';

const sseHeaders = (more: Record<string, string> = {}) =>
  new Headers({ accept: 'text/event-stream', ...more });

const streamResponse = (chunks: string[], contentType = 'text/event-stream; charset=utf-8') => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const s of chunks) c.enqueue(bytes(s));
    },
    cancel() {
      cancelled = true;
    },
  });
  return {
    response: new Response(body, { status: 200, headers: { 'content-type': contentType } }),
    cancelled: () => cancelled,
  };
};

/** A stream the server ends after `chunks`. */
const ended = (chunks: string[]) => {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const s of chunks) c.enqueue(bytes(s));
      c.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
};

describe('EventStreams', () => {
  it('passes the body through unchanged and resumes a stream the server ended from its last id', async () => {
    const streams = new EventStreams();
    expect(streams.lastEventIdFor(PAGE, URL_, sseHeaders())).toBeUndefined();
    const text = 'id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n';
    const watched = streams.observe(PAGE, URL_, '', ended([text]));
    expect(watched.headers.get('content-type')).toBe('text/event-stream');
    // While the stream is open, nothing is added.
    expect(streams.lastEventIdFor(PAGE, URL_, sseHeaders())).toBeUndefined();
    expect(await watched.text()).toBe(text);
    expect(streams.lastEventIdFor(PAGE, URL_, sseHeaders()), 'id 3 was never dispatched').toBe('2');
    // Not for a request that has its own, nor one not asking for an event stream, nor another page or URL.
    expect(
      streams.lastEventIdFor(PAGE, URL_, sseHeaders({ 'last-event-id': '1' })),
    ).toBeUndefined();
    expect(streams.lastEventIdFor(PAGE, URL_, new Headers({ accept: '*/*' }))).toBeUndefined();
    expect(streams.lastEventIdFor('client-2', URL_, sseHeaders())).toBeUndefined();
    expect(streams.lastEventIdFor(PAGE, `${URL_}?x`, sseHeaders())).toBeUndefined();
    expect(streams.lastEventIdFor(undefined, URL_, sseHeaders())).toBeUndefined();
  });

  it('adds nothing where the browser sends the header itself (a new EventSource starts afresh)', async () => {
    const streams = new EventStreams({ browserSendsIt: true });
    const watched = streams.observe(PAGE, URL_, '', ended(['id: 1\ndata: a\n\n']));
    expect(await watched.text()).toBe('id: 1\ndata: a\n\n');
    expect(streams.lastEventIdFor(PAGE, URL_, sseHeaders())).toBeUndefined();
  });

  it('a reopened stream starts from the id it was sent with', async () => {
    const streams = new EventStreams();
    await streams.observe(PAGE, URL_, '', ended(['id: 3\n\n'])).text();
    const sent = streams.lastEventIdFor(PAGE, URL_, sseHeaders());
    expect(sent).toBe('3');
    const reopened = streams.observe(PAGE, URL_, sent!, ended(['data: no id\n\n']));
    expect(streams.lastEventIdFor(PAGE, URL_, sseHeaders()), 'open again').toBeUndefined();
    await reopened.text();
    expect(streams.lastEventIdFor(PAGE, URL_, sseHeaders())).toBe('3');
  });

  it('adds nothing after the page cancelled the stream', async () => {
    const streams = new EventStreams();
    const { response, cancelled } = streamResponse(['id: 4\ndata: a\n\n']);
    const watched = streams.observe(PAGE, URL_, '', response);
    const reader = watched.body!.getReader();
    await reader.read();
    await reader.cancel();
    await vi.waitFor(() => expect(cancelled(), 'the cancel reaches the tunnel').toBe(true));
    expect(streams.lastEventIdFor(PAGE, URL_, sseHeaders())).toBeUndefined();
  });

  it('leaves other responses alone', () => {
    const streams = new EventStreams();
    const json = new Response('{}', { headers: { 'content-type': 'application/json' } });
    expect(streams.observe(PAGE, URL_, '', json)).toBe(json);
    expect(streams.size).toBe(0);
  });

  it('keeps at most `max` entries, the most recently used, and forgets all on clear', async () => {
    const streams = new EventStreams({ max: 2 });
    for (const page of ['a', 'b', 'c'])
      await streams.observe(page, URL_, '', ended(['id: 1\n\n'])).text();
    expect(streams.size).toBe(2);
    expect(streams.lastEventIdFor('a', URL_, sseHeaders())).toBeUndefined();
    expect(streams.lastEventIdFor('c', URL_, sseHeaders())).toBe('1');
    streams.clear();
    expect(streams.lastEventIdFor('c', URL_, sseHeaders())).toBeUndefined();
  });

  it('forgets the streams of pages that are gone', async () => {
    let live = ['a', 'b'];
    const streams = new EventStreams({ liveClients: async () => live });
    await streams.observe('a', URL_, '', ended(['id: 1\n\n'])).text();
    live = ['b'];
    await streams.observe('b', URL_, '', ended(['id: 2\n\n'])).text();
    await new Promise((r) => setTimeout(r, 0));
    expect(streams.size).toBe(1);
    expect(streams.lastEventIdFor('a', URL_, sseHeaders())).toBeUndefined();
    expect(streams.lastEventIdFor('b', URL_, sseHeaders())).toBe('2');
  });
});

/**
 * Node's own `fetch` trusting one extra CA (the real network's root), for tests that talk to
 * OpenZiti's controller over https as a browser would: real redirect following, `response.url`,
 * the Fetch rules for a redirected POST. Node 20 has no public way to hand `fetch` a CA; its fetch
 * accepts a `dispatcher`, and the Agent class it uses is reachable through its global dispatcher,
 * so that class is built again with the CA (no separate undici package).
 */
import { rootCertificates } from 'node:tls';

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

type AgentClass = new (opts: { connect: { ca: string[] } }) => object;

async function fetchAgentClass(): Promise<AgentClass> {
  // The first fetch loads Node's bundled undici, which installs its global Agent.
  await fetch('data:,');
  const dispatcher = (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER];
  const ctor = (dispatcher as { constructor?: unknown } | undefined)?.constructor;
  if (typeof ctor !== 'function' || ctor.name !== 'Agent') {
    throw new Error(
      `Node ${process.version}: cannot reach fetch's Agent to trust another CA (global dispatcher is ${String(ctor && (ctor as { name?: string }).name)})`,
    );
  }
  return ctor as AgentClass;
}

/**
 * What Chromium and Firefox send. Node's fetch lists `br` first, and OpenZiti v1.7.2's web
 * server then answers every response with status 200 (xweb v2.3.4 `middleware/compression.go
 * handleBr` never writes the handler's status), so a 302 is not followed and a 401 looks like
 * success. Browsers list gzip first and get the true status, as we do here.
 */
const BROWSER_ACCEPT_ENCODING = 'gzip, deflate, br, zstd';

/**
 * A `fetch` for `Request`s that trusts the public roots and `caPem`, with a browser's
 * `Accept-Encoding` unless the request sets its own.
 */
export async function fetchTrusting(caPem: string): Promise<(req: Request) => Promise<Response>> {
  const Agent = await fetchAgentClass();
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, caPem] } });
  return (req: Request) => {
    const headers = new Headers(req.headers);
    if (!headers.has('accept-encoding')) headers.set('accept-encoding', BROWSER_ACCEPT_ENCODING);
    return fetch(new Request(req, { headers }), { dispatcher } as RequestInit);
  };
}

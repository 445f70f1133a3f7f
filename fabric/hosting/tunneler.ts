/**
 * The fabric's hosting tunneler (§3.5, §7): logs in to the controller with its own identity, gets
 * a session certificate, connects OUT to the router's `tls:` listener, Binds every service it may
 * host that has a `host.v1`, and for each Dial connects to that loopback address and acts as the
 * end-to-end server. Nothing listens on its side: the dark app is reachable only through here.
 */
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  type Channel,
  ContentType,
  decodeData,
  decodeDial,
  decodeStateClosed,
  decodeStateConnected,
  encodeBind,
  encodeData,
  encodeDialFailed,
  encodeDialSuccess,
  encodeStateClosed,
  generateKxKeyPair,
  type KxKeyPair,
  type Message,
  openChannel,
  type SessionKeys,
  serverSessionKeys,
} from '../../shared/ziti/index.ts';
import { nodeSocketDuplex } from '../_internal/node-duplex.ts';
import type { HostV1 } from '../config.ts';
import type { Logger } from '../log.ts';
import { ControllerRest } from './controller-rest.ts';
import { TcpBridge } from './tcp-bridge.ts';

export interface TunnelerOptions {
  controllerUrl: string;
  username: string;
  password: string;
  /** Only host these service names (default: every bindable service with host.v1). */
  services?: string[];
  log: Logger;
  /** How often to refresh the API session (idle timeout §1.4); default 60 s. */
  keepAliveMs?: number;
  /** Dial timeout toward the app; §7 says 5 s. */
  targetConnectTimeoutMs?: number;
}

export interface RunningTunneler {
  channel: Channel;
  /** Names of the services bound. */
  hosted: string[];
  close(): Promise<void>;
}

interface BindState {
  serviceName: string;
  host: HostV1;
  keys: KxKeyPair | undefined;
  token: string;
}

function connectTarget(host: HostV1, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: host.address, port: host.port, timeout: timeoutMs });
    s.once('connect', () => {
      s.setTimeout(0);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('timeout', () => {
      s.destroy();
      reject(new Error(`connect to ${host.address}:${host.port} timed out`));
    });
    s.once('error', reject);
  });
}

export async function startTunneler(opts: TunnelerOptions): Promise<RunningTunneler> {
  const { log } = opts;
  const rest = new ControllerRest(opts.controllerUrl);
  await rest.loginPassword(opts.username, opts.password);
  const creds = await rest.sessionCertificate();
  const services = (await rest.services()).filter(
    (s) =>
      s.permissions.includes('Bind') &&
      s.config['host.v1'] !== undefined &&
      (!opts.services || opts.services.includes(s.name)),
  );
  if (services.length === 0)
    throw new Error(`identity ${opts.username} may host no service with host.v1`);

  const first = await rest.createSession(services[0]!.id, 'Bind');
  // A real controller may send an empty router list as null (§1.8).
  const tlsUrl = (first.edgeRouters ?? []).map((r) => r.urls.tls).find((u) => u);
  if (!tlsUrl) throw new Error('no edge router offers a tls: listener');
  const { hostname, port } = new URL(tlsUrl.replace(/^tls:/, 'http:'));
  const sock = tlsConnect({
    host: hostname,
    port: Number(port),
    // SNI must be a DNS name (RFC 6066); an IP address gets none.
    servername: isIP(hostname) ? undefined : hostname,
    key: creds.keyPem,
    cert: creds.certChainPem,
    ca: creds.caPem,
    minVersion: 'TLSv1.2',
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', resolve);
    sock.once('error', reject);
  });
  const channel = await openChannel(nodeSocketDuplex(sock), {
    sessionToken: rest.token!,
    latencyIntervalMs: 30_000,
  });

  const binds = new Map<number, BindState>();
  const bridges = new Map<number, TcpBridge>();
  let nextBindConnId = 1;
  await TcpBridge.ready();

  channel.handle(ContentType.Dial, (msg: Message) => {
    void onDial(msg);
  });
  channel.handle(ContentType.Data, async (msg: Message) => {
    const d = decodeData(msg);
    const b = bridges.get(d.connId);
    if (!b) return;
    try {
      await b.onData(d.body, d.flags);
    } catch (err) {
      log.warn(`connection ${d.connId}: ${(err as Error).message}`);
      b.close((err as Error).message);
    }
  });
  channel.handle(ContentType.StateClosed, (msg: Message) => {
    const { connId } = decodeStateClosed(msg);
    bridges.get(connId)?.onPeerClosed();
    bridges.delete(connId);
  });
  channel.handle(ContentType.BindSuccess, () => {});

  async function onDial(msg: Message): Promise<void> {
    const dial = decodeDial(msg);
    const bind = binds.get(dial.connId);
    const refuse = (reason: string) =>
      channel.reply(msg, encodeDialFailed({ connId: dial.connId, reason })).catch(() => {});
    if (!bind || dial.sessionToken !== bind.token) return void (await refuse('unknown bind'));
    if (dial.newConnId === undefined)
      return void (await refuse('router did not provide a connection id'));
    const n = dial.newConnId;
    if (bind.keys && !dial.publicKey) {
      return void (await refuse('encryption required: dialer sent no public key'));
    }
    // Keys first: a bad dialer key is refused before the target is reached.
    let e2e: SessionKeys | undefined;
    try {
      e2e =
        bind.keys && dial.publicKey
          ? await serverSessionKeys(bind.keys, dial.publicKey)
          : undefined;
    } catch (err) {
      return void (await refuse((err as Error).message));
    }
    let socket: Socket;
    try {
      socket = await connectTarget(bind.host, opts.targetConnectTimeoutMs ?? 5_000);
    } catch (err) {
      log.warn(`${bind.serviceName}: ${(err as Error).message}`);
      return void (await refuse((err as Error).message));
    }
    const bridge = new TcpBridge({
      socket,
      sender: {
        sendData: (body, flags) => channel.send(encodeData({ connId: n, body, flags })),
        sendClose: (reason) => channel.send(encodeStateClosed({ connId: n, reason })),
      },
      e2e,
      onEnd: () => bridges.delete(n),
    });
    bridges.set(n, bridge);
    await channel.reply(msg, encodeDialSuccess({ connId: dial.connId, newConnId: n }));
    log.debug(
      `${bind.serviceName}: connection ${n} from ${dial.dialerIdentityName ?? dial.callerId ?? '?'}`,
    );
    await bridge.start();
  }

  const hosted: string[] = [];
  for (const svc of services) {
    const session = svc === services[0] ? first : await rest.createSession(svc.id, 'Bind');
    const keys = svc.encryptionRequired ? await generateKxKeyPair() : undefined;
    const connId = nextBindConnId++;
    binds.set(connId, {
      serviceName: svc.name,
      host: svc.config['host.v1'] as HostV1,
      keys,
      token: session.token,
    });
    const reply = await channel.request(
      encodeBind({ connId, sessionToken: session.token, publicKey: keys?.publicKey }),
    );
    if (reply.contentType !== ContentType.StateConnected) {
      const why =
        reply.contentType === ContentType.StateClosed
          ? decodeStateClosed(reply).reason
          : `content type ${reply.contentType}`;
      throw new Error(`bind of ${svc.name} refused: ${why}`);
    }
    decodeStateConnected(reply);
    hosted.push(svc.name);
  }
  log.info(`tunneler hosts ${hosted.join(', ')} via ${tlsUrl}`);

  const keepAlive = setInterval(() => {
    rest
      .call('GET', '/current-api-session')
      .catch((err: Error) => log.warn(`tunneler keep-alive: ${err.message}`));
  }, opts.keepAliveMs ?? 60_000);
  keepAlive.unref();
  channel.onClose((info) => {
    clearInterval(keepAlive);
    if (info.initiator !== 'local')
      log.warn(`tunneler channel closed (${info.error?.message ?? info.initiator})`);
  });

  return {
    channel,
    hosted,
    async close() {
      clearInterval(keepAlive);
      for (const b of bridges.values()) b.close('tunneler stopping');
      await channel.close();
      sock.destroy();
    },
  };
}

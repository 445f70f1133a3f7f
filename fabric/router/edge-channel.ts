/**
 * One authenticated edge channel on the router (§3.4, §3.5): Connect -> circuit to a terminator,
 * Bind/Unbind for hosting SDKs, Data/FIN/StateClosed relayed between the two ends of each circuit.
 *
 * Concurrency contract: the channel dispatches one message at a time and waits for the handler, so
 * awaiting the far side's send here is what carries backpressure across the router. A circuit's
 * host end is registered before the Dial goes out, and its Data waits for `ready` (StateConnected
 * sent to the dialer), because StateConnected must precede any payload (§3.4 step 3).
 *
 * SDK flow control: a Connect with UseXgressToSdk=true is answered as a v1.7.2 router answers it
 * (`router/xgress_edge/listener.go` `xgEdgeForwarder.FinishConnect`): StateConnected with
 * UseXgressToSdk, XgressCtrlId and XgressAddress. The dialer then sends and receives xgress payloads
 * (ct 1100), acknowledgements (1101) and XgClose (1103), routed by their circuit id; the router runs
 * the circuit's terminator end itself (`XgressEndpoint`, originator 'terminator', ConnId on payloads
 * and acknowledgements), where a real network has the terminator's xgress. Toward the far end
 * nothing changes (V1 Data to a hosting SDK, bytes to a TcpBridge):
 * - dialer -> far: payloads are delivered in order into a per-circuit queue that feeds the far end;
 *   the queued bytes are what the endpoint reports unread, so a slow far end closes the dialer's
 *   window without pausing the dialer's channel. The FIN travels as payload header 0x10, and an
 *   EOF payload counts as one; CircuitEnd only announces the XgClose that ends the circuit.
 * - far -> dialer: Data becomes a payload (edge Flags in payload header 0x10); the far end's
 *   handler waits for the window, which pauses the far end's channel or socket as V1 Data does.
 *   A channel that both hosts and dials a service of its own with a full window waits on itself, as
 *   a Go router's bounded per-connection queue would (`fabric.go` `NewMsgQueue(4)`).
 * - the far end's StateClosed: EOF payload, then StateClosed "xgress unrouted" (the real router's
 *   text once the circuit is torn down). The dialer's XgClose ends the circuit; its StateClosed and
 *   Data on a flow-controlled connection are ignored, as the real router's connection mux ignores
 *   them. A malformed acknowledgement gets StateClosed "xgress closed" (`handleXgAcknowledgement`);
 *   the fabric then also ends that connection's circuit, which the real router leaves to its peer.
 *
 * OIDC channels (hello with an access JWT, auth.ts): Connect and Bind take a service-access JWT
 * of this API session, checked as a v1.7.2 router and then its controller check it
 * (`router/state/manager.go GetServiceSessionToken`, `HasDialAccess`;
 * `controller/handler_edge_ctrl/common.go loadFromTokens`). A bare service id, which the real
 * router lets through, is refused as the real controller then refuses it. UpdateToken replaces the
 * channel's access token (`router/xgress_edge/listener.go processTokenUpdate`).
 *
 * Stricter than a v1.7.2 router, on purpose, so that a client that forgot UpdateToken fails here:
 * - a Connect or Bind on a channel whose current access token has expired is refused by the
 *   router itself with StateClosed "token has invalid claims: token is expired". The real router
 *   never looks at `exp` after the hello, but forwards the channel's token to its controller,
 *   which refuses the circuit with that same text (`controller/handler_edge_ctrl/common.go
 *   loadFromTokens` -> `ValidateAccessToken`); a fabric without that check would let such a
 *   client through. A token revoked at `/oidc/revoke` is refused the same way, with the real
 *   controller's text "access token has been revoked by id";
 * - an UpdateToken whose JWT names another `z_asid` or `sub` gets UpdateTokenFailure (the real
 *   router answers UpdateTokenSuccess and silently keeps the old token).
 */
import { randomUUID } from 'node:crypto';
import { type Socket, connect as tcpConnect } from 'node:net';
import {
  type Channel,
  ContentType,
  decodeBind,
  decodeConnect,
  decodeData,
  decodeDialSuccess,
  decodeStateClosed,
  decodeUnbind,
  EdgeErrorCode,
  EdgeFlag,
  encodeBindSuccess,
  encodeData,
  encodeDial,
  encodeStateClosed,
  encodeStateConnected,
  generateKxKeyPair,
  getHeaderU32,
  HeaderId,
  type KxKeyPair,
  type Message,
  newMessage,
  RetryHint,
  ROUTER_CONN_ID_START,
  type SessionKeys,
  serverSessionKeys,
  stringBytes,
  u32Bytes,
} from '../../shared/ziti/index.ts';
import { XgressEndpoint } from '../../shared/ziti/xgress/endpoint.ts';
import {
  decodeAck,
  decodePayload,
  decodeXgClose,
  edgeFlagsOf,
  PAYLOAD_EDGE_FLAGS_KEY,
  PayloadFlag,
  type XgPayload,
} from '../../shared/ziti/xgress/messages.ts';
import { TcpBridge } from '../hosting/tcp-bridge.ts';
import type { Logger } from '../log.ts';
import type {
  ApiSession,
  ApiSessionJwt,
  FabricService,
  FabricState,
  Permission,
  ServiceAccessJwt,
} from '../state.ts';
import type { HostedTerminator, TerminatorRegistry } from './terminators.ts';

/** How long the router waits for a host's DialSuccess, and for a TCP target to accept. */
export const DIAL_TIMEOUT_MS = 10_000;

interface Endpoint {
  edge: EdgeChannel;
  connId: number;
}

/** XgressCtrlId in a flow-controlled StateConnected: the id of the (single) controller. */
export const XGRESS_CTRL_ID = 'fabric-ctrl';

/** What a v1.7.2 router tells a flow-controlled dialer when its circuit is torn down. */
export const XGRESS_UNROUTED = 'xgress unrouted';

/** The dialer side of a flow-controlled circuit: the router is the circuit's terminator xgress. */
interface XgDialer {
  endpoint: XgressEndpoint;
  /** In-order dialer bytes the far end has not taken yet. */
  outbox: { body: Uint8Array; flags: number }[];
  /** Bytes in `outbox`: what the endpoint reports as unread in its acknowledgements. */
  pending: number;
  pumping: boolean;
  /** The dialer finished (FIN, EOF or CircuitEnd); its FIN is queued toward the far end. */
  dialerDone: boolean;
}

interface Circuit {
  id: string;
  dialer: Endpoint;
  /** The far end: another channel's connection (hosted) or a TCP bridge (router-hosted). */
  far: Endpoint | TcpBridge | undefined;
  ready: Promise<void>;
  /** Releases Data held behind `ready`; called once StateConnected is queued, or on failure. */
  markReady: () => void;
  closed: boolean;
  /** Set when the dialer asked for SDK flow control (UseXgressToSdk). */
  xg?: XgDialer;
}

interface ConnEntry {
  circuit: Circuit;
  side: 'dialer' | 'far';
}

export interface RouterContext {
  state: FabricState;
  terminators: TerminatorRegistry;
  log: Logger;
  /** The router's live edge channels (an UpdateToken reaches every channel of its API session). */
  channels: Set<EdgeChannel>;
}

/** `router/xgress_common/edge.go IsBearerToken`: `ey` and exactly two dots. */
function isBearerToken(s: string): boolean {
  return s.startsWith('ey') && s.split('.').length === 3;
}

class ConnectFailure extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
    readonly retryHint: number = RetryHint.Default,
  ) {
    super(message);
  }
}

export class EdgeChannel {
  readonly #conns = new Map<number, ConnEntry>();
  /** Flow-controlled circuits dialed on this channel, by circuit id (xgress messages carry it). */
  readonly #xgCircuits = new Map<string, Circuit>();
  #nextConnId = ROUTER_CONN_ID_START;

  /** The channel's current access token when the hello carried one (an OIDC session). */
  #jwt: ApiSessionJwt | undefined;

  constructor(
    readonly channel: Channel,
    readonly apiSession: ApiSession,
    private readonly ctx: RouterContext,
    jwt?: ApiSessionJwt,
  ) {
    this.#jwt = jwt;
    channel.handle(ContentType.UpdateToken, (m) => this.#onUpdateToken(m));
    channel.handle(ContentType.Connect, (m) => this.#onConnect(m));
    channel.handle(ContentType.Data, (m) => this.#onData(m));
    channel.handle(ContentType.StateClosed, (m) => this.#onStateClosed(m));
    channel.handle(ContentType.Bind, (m) => this.#onBind(m));
    channel.handle(ContentType.Unbind, (m) => this.#onUnbind(m));
    channel.handle(ContentType.XgPayload, (m) => this.#onXgPayload(m));
    channel.handle(ContentType.XgAcknowledgement, (m) => this.#onXgAck(m));
    channel.handle(ContentType.XgClose, (m) => this.#onXgClose(m));
    channel.onClose(() => this.#onChannelClosed());
  }

  get log(): Logger {
    return this.ctx.log;
  }

  #send(msg: Message): Promise<void> {
    return this.channel.send(msg);
  }

  /** The access token the channel holds now; undefined on a legacy channel. */
  get accessToken(): ApiSessionJwt | undefined {
    return this.#jwt;
  }

  // --- OIDC sessions ----------------------------------------------------------------------------

  async #onUpdateToken(msg: Message): Promise<void> {
    const fail = (text: string) =>
      this.channel
        .reply(msg, newMessage(ContentType.UpdateTokenFailure, new Map(), stringBytes(text)))
        .catch(() => {});
    const current = this.#jwt;
    const body = new TextDecoder().decode(msg.body);
    // A v1.7.2 router builds a failure reply for these two cases but never sends it: the client
    // gets no answer and the channel stays open.
    if (!current) {
      this.log.warn(
        "UpdateToken refused, not answered: current connection isn't authenticated via JWT beater tokens, unable to switch to them",
      );
      return;
    }
    if (!isBearerToken(body)) {
      this.log.warn(
        'UpdateToken refused, not answered: message did not contain a valid JWT bearer token',
      );
      return;
    }
    let next: ApiSessionJwt;
    try {
      next = await this.ctx.state.parseApiSessionJwt(body);
    } catch (err) {
      // The channel stays open, with its old token.
      return void (await fail(
        `api session JWT bearer token failed to parse or validate: ${(err as Error).message}`,
      ));
    }
    if (next.apiSessionId !== current.apiSessionId || next.identityId !== current.identityId) {
      // Stricter than v1.7.2 (see the module comment).
      return void (await fail(
        `failed to update a JWT based api session: the token is for api session ${next.apiSessionId} of identity ${next.identityId}, this channel's is ${current.apiSessionId} of ${current.identityId}`,
      ));
    }
    // As `router/state/manager.go HandleClientApiSessionTokenUpdate`: every channel of this API
    // session and identity on the router takes the new token.
    for (const edge of this.ctx.channels) {
      const t = edge.#jwt;
      if (t && t.apiSessionId === next.apiSessionId && t.identityId === next.identityId)
        edge.#jwt = next;
    }
    this.#jwt = next;
    await this.channel.reply(msg, newMessage(ContentType.UpdateTokenSuccess, new Map()));
  }

  /**
   * The service of a Connect/Bind token on an OIDC channel, in the order the real router and then
   * its controller check it; throws ConnectFailure with their texts.
   */
  async #oidcService(token: string, want: Permission): Promise<FabricService> {
    const { state } = this.ctx;
    const jwt = this.#jwt!;
    if (state.now() >= jwt.expiresAt) {
      this.log.warn(
        `${this.apiSession.identity.name}: the channel's access token expired at ${new Date(jwt.expiresAt).toISOString()} and no UpdateToken replaced it`,
      );
      // The text of the real controller's refusal (golang-jwt v5 ErrTokenInvalidClaims + ErrTokenExpired).
      throw new ConnectFailure(
        EdgeErrorCode.Internal,
        'token has invalid claims: token is expired',
      );
    }
    // The real controller's next check of the channel's token (`controller/env/appenv.go
    // ValidateAccessToken`): a token whose id was revoked at /oidc/revoke makes no circuit and no
    // terminator; the channel stays open.
    if (jwt.jti !== undefined && state.isRevoked(jwt.jti)) {
      this.log.warn(`${this.apiSession.identity.name}: the channel's access token was revoked`);
      throw new ConnectFailure(EdgeErrorCode.Internal, 'access token has been revoked by id');
    }
    let claims: ServiceAccessJwt | undefined;
    let serviceId = token;
    if (token.startsWith('ey')) {
      try {
        claims = await state.parseServiceAccessJwt(token);
      } catch (err) {
        throw new ConnectFailure(
          EdgeErrorCode.InvalidSession,
          `failed to create service token from JWT: ${(err as Error).message}`,
        );
      }
      if (claims.apiSessionId !== jwt.apiSessionId) {
        throw new ConnectFailure(
          EdgeErrorCode.InvalidSession,
          `failed to create service token from JWT: api session id (${jwt.apiSessionId}) does not match service session api session id (${claims.apiSessionId})`,
        );
      }
      serviceId = claims.serviceId;
    } else if (want === 'Bind' || !state.serviceById(token)) {
      throw new ConnectFailure(
        EdgeErrorCode.InvalidSession,
        want === 'Bind'
          ? 'token is malformed: token contains an invalid number of segments'
          : 'unable to get service token either by JWT parsing or id lookup',
      );
    }
    if (want === 'Bind' && claims?.type !== 'Bind') {
      throw new ConnectFailure(
        EdgeErrorCode.WrongSessionType,
        `rejecting bind, invalid session type. expected Bind, got ${claims?.type ?? ''}`,
      );
    }
    const service = state.serviceById(serviceId);
    if (!service || !state.permissions(this.apiSession.identity, service).includes(want)) {
      throw new ConnectFailure(
        EdgeErrorCode.InvalidService,
        `no access to service, failed ${want.toLowerCase()} access check`,
      );
    }
    // What the controller checks when it creates the circuit or terminator.
    if (!claims) {
      throw new ConnectFailure(
        EdgeErrorCode.Internal,
        'token is malformed: token contains an invalid number of segments',
      );
    }
    if (!claims.audienceOk) {
      throw new ConnectFailure(
        EdgeErrorCode.Internal,
        'invalid audience, expected an instance of openziti or native',
      );
    }
    if (claims.identityId !== jwt.identityId) {
      throw new ConnectFailure(
        EdgeErrorCode.Internal,
        `access and service tokens do not match, got access identity id ${jwt.identityId} and service identity id ${claims.identityId}`,
      );
    }
    if (claims.type !== want)
      throw new ConnectFailure(EdgeErrorCode.WrongSessionType, 'incorrect session type');
    return service;
  }

  // --- dialing (§3.4) ------------------------------------------------------------------------

  async #onConnect(msg: Message): Promise<void> {
    let connId: number;
    try {
      connId = decodeConnect(msg).connId;
    } catch (err) {
      this.log.warn(`malformed Connect: ${(err as Error).message}`);
      return;
    }
    // Set up the circuit without holding the read loop: other connections keep flowing.
    void this.#connect(msg, connId).catch((err: Error) => {
      const f =
        err instanceof ConnectFailure
          ? err
          : new ConnectFailure(EdgeErrorCode.Internal, err.message);
      this.log.info(`connect ${connId} refused: ${f.message}`);
      // A flow-controlled circuit fails here only after its endpoint started: stop it.
      const entry = this.#conns.get(connId);
      if (entry?.circuit.xg) this.#closeCircuit(entry.circuit, f.message, 'dialer');
      this.#conns.delete(connId);
      void this.channel
        .reply(
          msg,
          encodeStateClosed({
            connId,
            reason: f.message,
            errorCode: f.errorCode,
            structuredError: { message: f.message, code: f.errorCode, retryHint: f.retryHint },
          }),
        )
        .catch(() => {});
    });
  }

  async #connect(msg: Message, connId: number): Promise<void> {
    const req = decodeConnect(msg);
    const { state } = this.ctx;
    if (this.#conns.has(connId))
      throw new ConnectFailure(EdgeErrorCode.Internal, `connId ${connId} already in use`);
    const service = this.#jwt
      ? await this.#oidcService(req.sessionToken, 'Dial')
      : await this.#legacyService(req.sessionToken);
    if (service.encryptionRequired && !req.publicKey) {
      // controller/handler_edge_ctrl/common.go createCircuit
      throw new ConnectFailure(
        EdgeErrorCode.EncryptionDataMissing,
        'encryption required on service, initiator did not send public header',
        RetryHint.NotRetriable,
      );
    }
    const circuit: Circuit = {
      id: randomUUID(),
      dialer: { edge: this, connId },
      far: undefined,
      ready: Promise.resolve(),
      markReady: () => {},
      closed: false,
    };
    this.#conns.set(connId, { circuit, side: 'dialer' });

    // TerminatorIdentity selects among the service's terminators (addressable terminators).
    const instanceId = req.terminatorIdentity ?? '';
    const hosted = this.ctx.terminators.pick(service.id, instanceId);
    let terminatorKey: Uint8Array | undefined;
    let bridge: TcpBridge | undefined;
    if (hosted) {
      try {
        terminatorKey = await this.#dialHosted(
          circuit,
          hosted,
          req.publicKey,
          req.appData,
          service,
        );
      } finally {
        if (circuit.closed) circuit.markReady();
      }
    } else if (service.hosting === 'router' && state.hostV1(service) && instanceId === '') {
      ({ bridge, publicKey: terminatorKey } = await this.#dialRouterHosted(
        circuit,
        service,
        req.publicKey,
      ));
    } else {
      throw new ConnectFailure(
        EdgeErrorCode.InvalidTerminator,
        `service ${service.name} has no terminators${instanceId ? ` for instanceId ${instanceId}` : ''}`,
        RetryHint.TooBusy,
      );
    }
    if (service.encryptionRequired && !terminatorKey) {
      this.#closeCircuit(circuit, 'terminator did not send a public key', 'far');
      throw new ConnectFailure(
        EdgeErrorCode.EncryptionDataMissing,
        'encryption required on service, terminator did not send public header',
      );
    }
    if (circuit.closed)
      throw new ConnectFailure(EdgeErrorCode.Internal, 'circuit closed during setup');
    if (req.useXgressToSdk) {
      circuit.xg = this.#startXg(circuit);
      this.#xgCircuits.set(circuit.id, circuit);
    }
    // reply() queues the frame synchronously, so releasing the host's Data right after keeps order.
    const sent = this.channel.reply(
      msg,
      encodeStateConnected({
        connId,
        circuitId: circuit.id,
        publicKey: req.publicKey ? terminatorKey : undefined,
        xgress: circuit.xg && { ctrlId: XGRESS_CTRL_ID, address: randomUUID() },
      }),
    );
    circuit.markReady();
    await sent;
    this.log.debug(`circuit ${circuit.id} up: ${this.apiSession.identity.name} -> ${service.name}`);
    await bridge?.start();
  }

  async #legacyService(token: string): Promise<FabricService> {
    const { state } = this.ctx;
    const session = await state.resolveSession(token);
    if (!session || session.apiSessionId !== this.apiSession.id) {
      throw new ConnectFailure(
        EdgeErrorCode.InvalidSession,
        'invalid session',
        RetryHint.StartOver,
      );
    }
    if (session.type !== 'Dial')
      throw new ConnectFailure(EdgeErrorCode.WrongSessionType, 'session is not a Dial session');
    const service = state.serviceById(session.serviceId);
    if (!service || !state.permissions(this.apiSession.identity, service).includes('Dial')) {
      throw new ConnectFailure(EdgeErrorCode.InvalidService, 'service not found or not dialable');
    }
    return service;
  }

  /** Dial on the host's channel; resolves with the host's E2E key once DialSuccess arrives. */
  async #dialHosted(
    circuit: Circuit,
    t: HostedTerminator,
    dialerKey: Uint8Array | undefined,
    appData: Uint8Array | undefined,
    service: FabricService,
  ): Promise<Uint8Array | undefined> {
    const hostEdge = edgeOf(t.channel);
    if (!hostEdge)
      throw new ConnectFailure(EdgeErrorCode.InvalidTerminator, 'terminator channel is gone');
    const newConnId = t.nextConnId();
    circuit.ready = new Promise((r) => {
      circuit.markReady = r;
    });
    circuit.far = { edge: hostEdge, connId: newConnId };
    hostEdge.#conns.set(newConnId, { circuit, side: 'far' });
    let reply: Message;
    try {
      reply = await t.channel.request(
        encodeDial({
          connId: t.bindConnId,
          newConnId,
          sessionToken: t.token,
          callerId: this.apiSession.identity.name,
          circuitId: circuit.id,
          publicKey: dialerKey,
          appData,
          dialerIdentityId: this.apiSession.identity.id,
          dialerIdentityName: this.apiSession.identity.name,
        }),
        DIAL_TIMEOUT_MS,
      );
    } catch (err) {
      hostEdge.#conns.delete(newConnId);
      circuit.markReady();
      throw new ConnectFailure(
        EdgeErrorCode.Internal,
        `dial to ${service.name} failed: ${(err as Error).message}`,
        RetryHint.TooBusy,
      );
    }
    if (reply.contentType !== ContentType.DialSuccess) {
      hostEdge.#conns.delete(newConnId);
      circuit.markReady();
      const reason = new TextDecoder().decode(reply.body) || 'dial failed';
      throw new ConnectFailure(EdgeErrorCode.Internal, `host refused the dial: ${reason}`);
    }
    const ok = decodeDialSuccess(reply);
    if (ok.newConnId !== newConnId) {
      hostEdge.#conns.delete(newConnId);
      circuit.markReady();
      throw new ConnectFailure(
        EdgeErrorCode.Internal,
        'host answered DialSuccess for another connection',
      );
    }
    // StateConnected goes out in #connect; host Data waits behind `ready` until then.
    return t.publicKey;
  }

  async #dialRouterHosted(
    circuit: Circuit,
    service: FabricService,
    dialerKey: Uint8Array | undefined,
  ): Promise<{ bridge: TcpBridge; publicKey: Uint8Array | undefined }> {
    const host = this.ctx.state.hostV1(service)!;
    // Keys first: a bad dialer key is refused before the target is reached.
    let own: KxKeyPair | undefined;
    let e2e: SessionKeys | undefined;
    if (dialerKey) {
      // serverSessionKeys waits for libsodium, which the bridge's stream needs too.
      own = await generateKxKeyPair();
      e2e = await serverSessionKeys(own, dialerKey);
    }
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = tcpConnect({ host: host.address, port: host.port, timeout: DIAL_TIMEOUT_MS });
      s.once('connect', () => {
        s.setTimeout(0);
        resolve(s);
      });
      s.once('timeout', () => reject(new Error('timed out')));
      s.once('error', reject);
    }).catch((err: Error) => {
      throw new ConnectFailure(
        EdgeErrorCode.Internal,
        `cannot reach ${host.address}:${host.port}: ${err.message}`,
        RetryHint.TooBusy,
      );
    });
    socket.setNoDelay(true);
    const bridge = new TcpBridge({
      socket,
      sender: {
        sendData: (body, flags) => this.#toDialer(circuit, body, flags ?? 0),
        sendClose: (reason) => {
          if (!circuit.xg) {
            return this.#send(encodeStateClosed({ connId: circuit.dialer.connId, reason }));
          }
          // onEnd follows and forgets the circuit; the dialer hears the flow-controlled ending.
          this.#closeCircuit(circuit, reason, 'far');
          return Promise.resolve();
        },
      },
      e2e,
      onEnd: () => {
        circuit.closed = true;
        this.#conns.delete(circuit.dialer.connId);
        this.#endXg(circuit);
      },
    });
    circuit.far = bridge;
    return { bridge, publicKey: own?.publicKey };
  }

  // --- relaying --------------------------------------------------------------------------------

  async #onData(msg: Message): Promise<void> {
    let data: ReturnType<typeof decodeData>;
    try {
      data = decodeData(msg);
    } catch (err) {
      this.log.warn(`malformed Data: ${(err as Error).message}`);
      return;
    }
    const entry = this.#conns.get(data.connId);
    if (!entry) return;
    const { circuit } = entry;
    if (circuit.xg && entry.side === 'dialer') {
      this.log.debug(`circuit ${circuit.id}: Data on a flow-controlled connection, dropped`);
      return;
    }
    await circuit.ready;
    if (circuit.closed) return;
    try {
      if (entry.side === 'dialer') await this.#toFar(circuit, data.body, data.flags);
      else await this.#toDialer(circuit, data.body, data.flags);
    } catch (err) {
      if (circuit.closed) return;
      this.log.info(`circuit ${circuit.id}: ${(err as Error).message}`);
      this.#closeCircuit(circuit, (err as Error).message);
    }
  }

  async #toFar(circuit: Circuit, body: Uint8Array, flags: number): Promise<void> {
    const far = circuit.far;
    if (far instanceof TcpBridge) await far.onData(body, flags);
    else if (far) await far.edge.#send(encodeData({ connId: far.connId, body, flags }));
  }

  /** Far end's bytes to the dialer; on a flow-controlled circuit this waits for the window. */
  async #toDialer(circuit: Circuit, body: Uint8Array, flags: number): Promise<void> {
    const { dialer, xg } = circuit;
    if (!xg) {
      await dialer.edge.#send(encodeData({ connId: dialer.connId, body, flags }));
      return;
    }
    if (body.length === 0 && flags === 0) return;
    const headers = new Map<number, Uint8Array>();
    if (flags !== 0) headers.set(PAYLOAD_EDGE_FLAGS_KEY, u32Bytes(flags));
    await xg.endpoint.write(body, headers);
  }

  // --- SDK flow control (UseXgressToSdk) --------------------------------------------------------

  #startXg(circuit: Circuit): XgDialer {
    const xg: XgDialer = {
      endpoint: undefined as unknown as XgressEndpoint,
      outbox: [],
      pending: 0,
      pumping: false,
      dialerDone: false,
    };
    xg.endpoint = new XgressEndpoint({
      circuitId: circuit.id,
      originator: 'terminator',
      connId: circuit.dialer.connId,
      connIdOnAcks: true,
      send: (m) => this.#send(m),
      deliver: (p) => this.#xgDeliver(circuit, p),
      pendingBytes: () => xg.pending,
      // A failed send means the dialer's channel is gone: only the far end needs telling.
      onError: (err) => this.#closeCircuit(circuit, err.message, 'dialer'),
    });
    return xg;
  }

  /** One in-order payload from the dialer (CircuitStart and other empty ones included). */
  #xgDeliver(circuit: Circuit, p: XgPayload): void {
    const xg = circuit.xg!;
    if (circuit.closed) return;
    if (p.flags & PayloadFlag.WriteFailed) {
      // The dialer can take no more (Go closes the terminator's send buffer): the circuit is over.
      this.#closeCircuit(circuit, 'dialer write failed');
      return;
    }
    let flags: number;
    try {
      flags = edgeFlagsOf(p);
    } catch (err) {
      this.log.warn(`circuit ${circuit.id}: ${(err as Error).message}`);
      this.#closeCircuit(circuit, (err as Error).message);
      return;
    }
    // EOF: the dialer's read side ended (SDKs send it after their FIN payload), a FIN unless one
    // went already. CircuitEnd: the circuit is ending and XgClose follows, which the far end hears
    // as StateClosed; a v1.7.2 router sends the far end nothing for either.
    if (p.flags & PayloadFlag.EOF) flags |= EdgeFlag.FIN;
    if (p.flags & PayloadFlag.CircuitEnd && !(flags & EdgeFlag.FIN)) {
      xg.dialerDone = true;
      return;
    }
    if (p.data.length === 0 && !(flags & EdgeFlag.FIN)) return;
    if (xg.dialerDone) {
      if (p.data.length > 0) this.log.debug(`circuit ${circuit.id}: payload after FIN, dropped`);
      return;
    }
    if (flags & EdgeFlag.FIN) xg.dialerDone = true;
    xg.outbox.push({ body: p.data, flags });
    xg.pending += p.data.length;
    void this.#xgPump(circuit);
  }

  /** Hands the dialer's queued bytes to the far end, one at a time, reporting each as read. */
  async #xgPump(circuit: Circuit): Promise<void> {
    const xg = circuit.xg!;
    if (xg.pumping) return;
    xg.pumping = true;
    try {
      await circuit.ready;
      while (xg.outbox.length > 0 && !circuit.closed) {
        const next = xg.outbox[0]!;
        await this.#toFar(circuit, next.body, next.flags);
        xg.outbox.shift();
        xg.pending -= next.body.length;
        xg.endpoint.readerProgress();
      }
    } catch (err) {
      if (!circuit.closed) {
        this.log.info(`circuit ${circuit.id}: ${(err as Error).message}`);
        this.#closeCircuit(circuit, (err as Error).message);
      }
    } finally {
      xg.pumping = false;
    }
  }

  #onXgPayload(msg: Message): void {
    let payload: XgPayload;
    try {
      payload = decodePayload(msg);
    } catch (err) {
      this.log.error(`failed to unmarshal xgress payload: ${(err as Error).message}`);
      return;
    }
    const circuit = this.#xgCircuits.get(payload.circuitId);
    if (!circuit) {
      this.log.warn(`no xgress edge forwarder for circuit ${payload.circuitId}`);
      return;
    }
    circuit.xg!.endpoint.onPayload(payload);
  }

  #onXgAck(msg: Message): void {
    let ack: ReturnType<typeof decodeAck>;
    try {
      ack = decodeAck(msg);
    } catch (err) {
      const connId = getHeaderU32(msg, HeaderId.ConnId) ?? 0;
      this.log.warn(
        `malformed xgress acknowledgement on connection ${connId}: ${(err as Error).message}`,
      );
      // Nothing can be forwarded on this connection any more: its circuit ends here as well.
      const entry = this.#conns.get(connId);
      if (entry?.side === 'dialer' && entry.circuit.xg) {
        this.#closeCircuit(entry.circuit, 'xgress closed', 'dialer');
      }
      void this.#send(encodeStateClosed({ connId, reason: 'xgress closed' })).catch(() => {});
      return;
    }
    const circuit = this.#xgCircuits.get(ack.circuitId);
    if (!circuit) {
      this.log.error(`no edge forwarder found for edge circuit ${ack.circuitId}`);
      return;
    }
    circuit.xg!.endpoint.onAck(ack);
  }

  #onXgClose(msg: Message): void {
    let circuitId: string;
    try {
      circuitId = decodeXgClose(msg);
    } catch {
      this.log.debug('XgClose whose body is not a circuit id, dropped');
      return;
    }
    const circuit = this.#xgCircuits.get(circuitId);
    if (!circuit) {
      this.log.debug(`XgClose for circuit ${circuitId}, which is not open here`);
      return;
    }
    this.log.debug(`circuit ${circuitId}: closed by the dialer (XgClose)`);
    this.#closeCircuit(circuit, 'closed by peer', 'dialer');
  }

  /** Stops a flow-controlled circuit's endpoint (timers, waiting writes) and forgets it. */
  #endXg(circuit: Circuit): void {
    const xg = circuit.xg;
    if (!xg) return;
    xg.endpoint.close();
    xg.outbox = [];
    xg.pending = 0;
    circuit.dialer.edge.#xgCircuits.delete(circuit.id);
  }

  #onStateClosed(msg: Message): void {
    let info: ReturnType<typeof decodeStateClosed>;
    try {
      info = decodeStateClosed(msg);
    } catch {
      return;
    }
    const entry = this.#conns.get(info.connId);
    if (!entry) return;
    if (entry.circuit.xg && entry.side === 'dialer') {
      // A v1.7.2 router's connection mux has no sink for a flow-controlled connection: ignored.
      this.log.debug(
        `circuit ${entry.circuit.id}: StateClosed on a flow-controlled connection, ignored`,
      );
      return;
    }
    // The body is consumed here, never forwarded: OpenZiti's browser client puts its session token
    // there, which must not reach the host (in plaintext on a service without E2E). A real router
    // tells the other side only that its connection closed.
    this.#closeCircuit(entry.circuit, 'closed by peer', entry.side);
  }

  /** Ends a circuit: tells whichever side did not initiate, and forgets both. */
  #closeCircuit(circuit: Circuit, reason: string, initiator?: 'dialer' | 'far'): void {
    if (circuit.closed) return;
    circuit.closed = true;
    circuit.markReady();
    const { dialer, far, xg } = circuit;
    dialer.edge.#conns.delete(dialer.connId);
    if (initiator !== 'dialer') {
      // As Go's terminator xgress when its peer's read ends: EOF, then the circuit goes away.
      if (xg && initiator === 'far' && !xg.endpoint.closed) {
        xg.endpoint.sendControl(PayloadFlag.EOF).catch(() => {});
      }
      const text = xg ? XGRESS_UNROUTED : reason;
      void dialer.edge
        .#send(encodeStateClosed({ connId: dialer.connId, reason: text }))
        .catch(() => {});
    }
    this.#endXg(circuit);
    if (far instanceof TcpBridge) {
      if (initiator === 'far') far.onPeerClosed();
      else far.close(reason, false);
    } else if (far) {
      far.edge.#conns.delete(far.connId);
      if (initiator !== 'far')
        void far.edge.#send(encodeStateClosed({ connId: far.connId, reason })).catch(() => {});
    }
  }

  #onChannelClosed(): void {
    this.ctx.terminators.removeChannel(this.channel);
    channels.delete(this.channel);
    for (const [connId, entry] of [...this.#conns]) {
      const c = entry.circuit;
      if (c.closed) continue;
      // Our side is gone: only the other side needs telling.
      const side = entry.side;
      this.#conns.delete(connId);
      this.#closeCircuit(c, 'channel closed', side);
    }
  }

  // --- hosting (§3.5) ----------------------------------------------------------------------------

  async #onBind(msg: Message): Promise<void> {
    let req: ReturnType<typeof decodeBind>;
    try {
      req = decodeBind(msg);
    } catch (err) {
      this.log.warn(`malformed Bind: ${(err as Error).message}`);
      return;
    }
    const fail = (errorCode: number, reason: string) =>
      this.channel
        .reply(msg, encodeStateClosed({ connId: req.connId, reason, errorCode }))
        .catch(() => {});
    if (this.#jwt) {
      try {
        const service = await this.#oidcService(req.sessionToken, 'Bind');
        return void (await this.#bound(msg, req, service));
      } catch (err) {
        if (!(err instanceof ConnectFailure)) throw err;
        return void (await fail(err.errorCode, err.message));
      }
    }
    if (!req.sessionToken.startsWith('ey'))
      return void (await fail(EdgeErrorCode.InvalidSession, 'bind token must be a JWT'));
    const session = await this.ctx.state.resolveSession(req.sessionToken);
    if (!session || session.apiSessionId !== this.apiSession.id)
      return void (await fail(EdgeErrorCode.InvalidSession, 'invalid session'));
    if (session.type !== 'Bind')
      return void (await fail(EdgeErrorCode.WrongSessionType, 'session is not a Bind session'));
    const service = this.ctx.state.serviceById(session.serviceId);
    if (
      !service ||
      !this.ctx.state.permissions(this.apiSession.identity, service).includes('Bind')
    ) {
      return void (await fail(EdgeErrorCode.InvalidService, 'service not found or not bindable'));
    }
    await this.#bound(msg, req, service);
  }

  async #bound(
    msg: Message,
    req: ReturnType<typeof decodeBind>,
    service: FabricService,
  ): Promise<void> {
    const t: HostedTerminator = {
      kind: 'hosted',
      id: randomUUID(),
      serviceId: service.id,
      channel: this.channel,
      bindConnId: req.connId,
      token: req.sessionToken,
      publicKey: req.publicKey,
      cost: req.cost ?? 0,
      instanceId: req.terminatorIdentity ?? '',
      identityName: this.apiSession.identity.name,
      nextConnId: () => this.#allocConnId(),
    };
    await this.channel.reply(
      msg,
      encodeStateConnected({ connId: req.connId, routerProvidedConnId: true }),
    );
    this.ctx.terminators.add(t);
    this.#binds.set(req.connId, t);
    this.log.info(
      `${this.apiSession.identity.name} hosts ${service.name} (terminator ${t.id.slice(0, 8)})`,
    );
    if (req.supportsBindSuccess) await this.#send(encodeBindSuccess({ connId: req.connId }));
  }

  readonly #binds = new Map<number, HostedTerminator>();

  #onUnbind(msg: Message): void {
    try {
      const { connId } = decodeUnbind(msg);
      const t = this.#binds.get(connId);
      if (t) {
        this.ctx.terminators.remove(t);
        this.#binds.delete(connId);
      }
    } catch {
      // ignore malformed
    }
  }

  #allocConnId(): number {
    const id = this.#nextConnId;
    this.#nextConnId = id >= 0xfffffffe ? ROUTER_CONN_ID_START : id + 1;
    return id;
  }

  /** Open circuits on this channel (diagnostics and tests). */
  get connectionCount(): number {
    return this.#conns.size;
  }
}

const channels = new WeakMap<Channel, EdgeChannel>();

export function edgeOf(channel: Channel): EdgeChannel | undefined {
  return channels.get(channel);
}

export function attachEdgeChannel(
  channel: Channel,
  apiSession: ApiSession,
  ctx: RouterContext,
  jwt?: ApiSessionJwt,
): EdgeChannel {
  const e = new EdgeChannel(channel, apiSession, ctx, jwt);
  channels.set(channel, e);
  return e;
}

/**
 * Protocol numbers of the channel (openziti/channel v5, wire "V2") and of the edge protocol that
 * rides on it (sdk-golang pb/edge_client_pb/edge_client.proto). Values from the protocol reference
 * §2 and §3; every other module uses these names, never bare numbers.
 *
 * Header id ranges: 0-127 belong to the channel itself, 128 is the one "reflected" header (copied
 * into replies; the edge protocol uses it as a 16-byte trace UUID, latency probes as a timestamp),
 * 1000-1099 belong to the edge protocol.
 */

/** First four bytes of every V2 frame. */
export const MAGIC_V2: Uint8Array = Uint8Array.of(0x03, 0x06, 0x09, 0x0c);
/** Magic of the reply a listener writes when it sees an unknown magic (then u32 2, 1, 2). */
export const MAGIC_UNKNOWN_VERSION: Uint8Array = Uint8Array.of(0x03, 0x06, 0x09, 0x0a);
/** Fixed part of a frame: magic, content type, sequence, headers length, body length. */
export const FRAME_PREFIX_BYTES = 20;
/** Sequence the hello (and its Result) carry. */
export const HELLO_SEQUENCE = -1;

/** Hello limits enforced by `readHelloV2` (reference §2.1). */
export const HELLO_MAX_HEADERS_BYTES = 16_384;
export const HELLO_MAX_BODY_BYTES = 4_192;
/** Our own cap on any other frame (headers + body); the Go channel has none. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Largest Data body we send: the C SDK pools 32 KiB buffers (reference §2.1). */
export const MAX_DATA_BODY_BYTES = 32 * 1024;

/** Content types: channel (0-6), edge (60783-60807) and xgress on the edge channel (1100-1103). */
export const ContentType = {
  Hello: 0,
  Ping: 1,
  Result: 2,
  Latency: 3,
  LatencyResponse: 4,
  Heartbeat: 5,
  Connect: 60783,
  StateConnected: 60784,
  StateClosed: 60785,
  Data: 60786,
  Dial: 60787,
  DialSuccess: 60788,
  DialFailed: 60789,
  Bind: 60790,
  Unbind: 60791,
  StateSessionEnded: 60792,
  Probe: 60793,
  UpdateBind: 60794,
  HealthEvent: 60795,
  TraceRoute: 60796,
  TraceRouteResponse: 60797,
  ConnInspectRequest: 60798,
  ConnInspectResponse: 60799,
  BindSuccess: 60800,
  UpdateTokenSuccess: 60801,
  UpdateTokenFailure: 60802,
  UpdateToken: 60803,
  InspectRequest: 60804,
  InspectResponse: 60805,
  ConnectV2: 60806,
  RouteCircuit: 60807,
  /** SDK flow control (UseXgressToSdk): xgress payloads, acknowledgements and close on the edge channel. */
  XgPayload: 1100,
  XgAcknowledgement: 1101,
  XgControl: 1102,
  XgClose: 1103,
} as const;
export type ContentTypeName = keyof typeof ContentType;

/** Header ids: channel (0-13), reflected (128), edge (1000-1040). */
export const HeaderId = {
  ConnectionId: 0,
  ReplyFor: 1,
  ResultSuccess: 2,
  HelloRouterAdvertisements: 3,
  HelloVersion: 4,
  Heartbeat: 5,
  HeartbeatResponse: 6,
  Type: 7,
  Id: 8,
  IsGrouped: 9,
  GroupSecret: 10,
  IsFirstGroupConnection: 11,
  UnderlayType: 12,
  HelloRejectClass: 13,
  /** The only header `ReplyTo` copies into replies. */
  Reflected: 128,
  /** Edge name of header 128: a 16-byte trace id. */
  UUID: 128,
  ConnId: 1000,
  Seq: 1001,
  SessionToken: 1002,
  PublicKey: 1003,
  Cost: 1004,
  Precedence: 1005,
  TerminatorIdentity: 1006,
  TerminatorIdentitySecret: 1007,
  CallerId: 1008,
  CryptoMethod: 1009,
  Flags: 1010,
  AppData: 1011,
  /** bool in Bind / StateConnected, u32 in Dial (reference §10). */
  RouterProvidedConnId: 1012,
  HealthStatus: 1013,
  ErrorCode: 1014,
  Timestamp: 1015,
  TraceHopCount: 1016,
  TraceHopType: 1017,
  TraceHopId: 1018,
  TraceSourceRequestId: 1019,
  TraceError: 1020,
  ListenerId: 1021,
  ConnType: 1022,
  SupportsInspect: 1023,
  SupportsBindSuccess: 1024,
  ConnectionMarker: 1025,
  CircuitId: 1026,
  StickinessToken: 1027,
  UseXgressToSdk: 1028,
  XgressCtrlId: 1029,
  XgressAddress: 1030,
  InspectRequestedValues: 1031,
  SupportsPostureChecks: 1032,
  StructuredError: 1033,
  DialerIdentityId: 1034,
  DialerIdentityName: 1035,
  ServiceId: 1036,
  ServiceIdentifierType: 1037,
  ConnectRequestId: 1038,
  RouterCapabilities: 1039,
  ServiceSubscriptionIndex: 1040,
} as const;
export type HeaderIdName = keyof typeof HeaderId;

/** Bits of the Flags header (1010) on Data. */
export const EdgeFlag = {
  /** End of stream from this side; body empty and never encrypted. */
  FIN: 1,
  TRACE_UUID: 2,
  /** Sender can accept multipart messages. We never set it: we send single-part only. */
  MULTIPART: 4,
  STREAM: 8,
  /** This body holds several parts (u16 LE length + bytes each). */
  MULTIPART_MSG: 16,
} as const;

/** Values of the ErrorCode header (1014) on StateClosed / DialFailed. */
export const EdgeErrorCode = {
  OK: 0,
  Internal: 1,
  InvalidApiSession: 2,
  InvalidSession: 3,
  WrongSessionType: 4,
  InvalidEdgeRouterForSession: 5,
  InvalidService: 6,
  TunnelingNotEnabled: 7,
  InvalidTerminator: 8,
  InvalidPrecedence: 9,
  InvalidCost: 10,
  EncryptionDataMissing: 11,
  InvalidApiSessionType: 12,
  InvalidInstanceId: 13,
  AccessDenied: 14,
  PostureCheckFailed: 15,
} as const;
export type EdgeErrorCodeName = keyof typeof EdgeErrorCode;

/** Name of an ErrorCode value, or undefined for values the reference does not list. */
export function edgeErrorCodeName(code: number): EdgeErrorCodeName | undefined {
  for (const [name, value] of Object.entries(EdgeErrorCode)) {
    if (value === code) return name as EdgeErrorCodeName;
  }
  return undefined;
}

/** `retryHint` of a StructuredError. */
export const RetryHint = { Default: 0, TooBusy: 1, StartOver: 2, NotRetriable: 3 } as const;

/** CryptoMethod header (1009). Always send Libsodium: Go rejects SSL (reference §4). */
export const CryptoMethod = { Libsodium: 0, SSL: 1 } as const;

/** Precedence header (1005). */
export const Precedence = { Default: 0, Required: 1, Failed: 2 } as const;

/** ConnType header (1022). */
export const ConnType = { Invalid: 0, Dial: 1, Bind: 2, Unknown: 3 } as const;

/** Bit numbers of the RouterCapabilities bitmask (1039, big-endian). */
export const RouterCapability = {
  MultiChannel: 1,
  ConnectV2: 2,
  ServiceSubscriptions: 4,
  PostureChecks: 5,
  BindSuccess: 6,
} as const;

/** Lowest connection id the router assigns itself; client-chosen ids stay below it. */
export const ROUTER_CONN_ID_START = 2 ** 31 - 1;

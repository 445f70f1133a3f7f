/**
 * The `ziti edge` commands that put a web app behind OpenZiti for browsers: one list, used by the
 * real-network harness (with local names) and printed in docs/production.md (with the example names;
 * `steps.test.ts` keeps the two the same). Each command is an argv after `ziti`.
 */

export interface NetworkNames {
  /** ext-jwt signer: the company IdP. */
  signer: string;
  issuer: string;
  jwksEndpoint: string;
  /** `aud` the IdP puts into access tokens for us. */
  audience: string;
  /** The access-token claim that holds the person's external id. */
  claimsProperty: string;
  /** The IdP's public OIDC client (code + PKCE) the bootstrap page logs in with. */
  clientId: string;
  scopes: string[];
  authPolicy: string;
  /** Role attribute of the people who may use the app, and of the hosting tunneler. */
  userRole: string;
  hostRole: string;
  service: string;
  /** What the app's clients call: the public host and port of the app. */
  intercept: { address: string; port: number };
  /** Where the hosting tunneler reaches the app. */
  host: { address: string; port: number };
  router: string;
  /** The hosting tunneler's identity. */
  hostIdentity: string;
}

/** The names docs/production.md uses. */
export const PRODUCTION_EXAMPLE: NetworkNames = {
  signer: 'corp-idp',
  issuer: 'https://idp.example.com/realms/corp',
  jwksEndpoint: 'https://idp.example.com/realms/corp/protocol/openid-connect/certs',
  audience: 'zt-chat',
  claimsProperty: 'email',
  clientId: 'zt-chat',
  scopes: ['openid', 'email'],
  authPolicy: 'corp-browser',
  userRole: 'chat-users',
  hostRole: 'chat-hosts',
  service: 'chat',
  intercept: { address: 'chat.example.com', port: 443 },
  host: { address: '10.0.0.5', port: 8065 },
  router: 'er1',
  hostIdentity: 'chat-host',
};

export type Argv = readonly string[];

/** `<SIGNER_ID>` stands for the id `ziti edge create ext-jwt-signer` printed. */
export const SIGNER_ID = '<SIGNER_ID>';

/** §2 of the guide: the IdP as an ext-jwt signer, and who may authenticate with it. */
export function signerSteps(n: NetworkNames): { signer: Argv; authPolicy: Argv } {
  return {
    signer: [
      'edge',
      'create',
      'ext-jwt-signer',
      n.signer,
      n.issuer,
      '--jwks-endpoint',
      n.jwksEndpoint,
      '--audience',
      n.audience,
      '--claims-property',
      n.claimsProperty,
      '--external-id',
      '--external-auth-url',
      n.issuer,
      '--client-id',
      n.clientId,
      '--scopes',
      n.scopes.join(','),
      '--target-token',
      'ACCESS',
    ],
    authPolicy: [
      'edge',
      'create',
      'auth-policy',
      n.authPolicy,
      '--primary-ext-jwt-allowed',
      '--primary-ext-jwt-allowed-signers',
      SIGNER_ID,
    ],
  };
}

/** §3: one identity per person, matched by the claim's value. */
export function personStep(n: NetworkNames, name: string, externalId: string): Argv {
  return [
    'edge',
    'create',
    'identity',
    name,
    '--external-id',
    externalId,
    '--auth-policy',
    n.authPolicy,
    '--role-attributes',
    n.userRole,
  ];
}

/** §4 and §5: the service, its configs and the policies. */
export function serviceSteps(n: NetworkNames): Argv[] {
  const intercept = JSON.stringify({
    protocols: ['tcp'],
    addresses: [n.intercept.address],
    portRanges: [{ low: n.intercept.port, high: n.intercept.port }],
  });
  const host = JSON.stringify({ protocol: 'tcp', address: n.host.address, port: n.host.port });
  return [
    ['edge', 'create', 'config', `${n.service}-intercept`, 'intercept.v1', intercept],
    ['edge', 'create', 'config', `${n.service}-host`, 'host.v1', host],
    [
      'edge',
      'create',
      'service',
      n.service,
      '--configs',
      `${n.service}-intercept,${n.service}-host`,
      '--encryption',
      'ON',
      '--role-attributes',
      n.service,
    ],
    [
      'edge',
      'create',
      'service-policy',
      `${n.service}-dial`,
      'Dial',
      '--service-roles',
      `#${n.service}`,
      '--identity-roles',
      `#${n.userRole}`,
    ],
    [
      'edge',
      'create',
      'service-policy',
      `${n.service}-bind`,
      'Bind',
      '--service-roles',
      `#${n.service}`,
      '--identity-roles',
      `#${n.hostRole}`,
    ],
    [
      'edge',
      'create',
      'edge-router-policy',
      `${n.userRole}-routers`,
      '--edge-router-roles',
      '#public',
      '--identity-roles',
      `#${n.userRole}`,
    ],
    [
      'edge',
      'create',
      'edge-router-policy',
      `${n.hostRole}-routers`,
      '--edge-router-roles',
      '#public',
      '--identity-roles',
      `#${n.hostRole}`,
    ],
    [
      'edge',
      'create',
      'service-edge-router-policy',
      `${n.service}-routers`,
      '--edge-router-roles',
      '#public',
      '--service-roles',
      `#${n.service}`,
    ],
  ];
}

/** §6: the edge router (its config file is `routerConfigYaml`). */
export function routerStep(n: NetworkNames, jwtFile: string): Argv {
  return [
    'edge',
    'create',
    'edge-router',
    n.router,
    '--role-attributes',
    'public',
    '--tunneler-enabled=false',
    '--jwt-output-file',
    jwtFile,
  ];
}

/** §7: the hosting tunneler's identity, enrolled beside the app. */
export function hostIdentitySteps(n: NetworkNames, jwtFile: string, identityFile: string): Argv[] {
  return [
    [
      'edge',
      'create',
      'identity',
      n.hostIdentity,
      '--role-attributes',
      n.hostRole,
      '--jwt-output-file',
      jwtFile,
    ],
    ['edge', 'enroll', '--jwt', jwtFile, '--out', identityFile],
  ];
}

/**
 * The router's config file: an edge `tls` listener (SDKs, the tunneler) and a `wss` one (browsers).
 * The router answers a ClientHello with the first of `server_cert`, then `alt_server_certs`, that
 * supports it: valid for its SNI name, or any when there is none (openziti/identity
 * `GetServerCertificate`). So a public `altServerCert` reaches browsers only under a
 * `wssAdvertiseHost` that is a DNS name missing from `csrSans` (the names enrollment puts into
 * `server_cert`), while the `tls` listener's host must be in `csrSans` for SDKs.
 */
export function routerConfigYaml(o: {
  dir: string;
  controller: string;
  listenHost: string;
  advertiseHost: string;
  /** Advertised host of the `wss` listener; default `advertiseHost`. */
  wssAdvertiseHost?: string;
  tlsPort: number;
  wssPort: number;
  altServerCert?: { cert: string; key: string };
  /** SANs of the enrolled server certificate; default `localhost` and `127.0.0.1`. */
  csrSans?: { dns: string[]; ip: string[] };
}): string {
  const alt = o.altServerCert
    ? `  alt_server_certs:\n    - server_cert: ${o.altServerCert.cert}\n      server_key: ${o.altServerCert.key}\n`
    : '';
  const sans = o.csrSans ?? { dns: ['localhost'], ip: ['127.0.0.1'] };
  return `v: 3
identity:
  cert: ${o.dir}/client.cert
  server_cert: ${o.dir}/server.cert
  key: ${o.dir}/server.key
  ca: ${o.dir}/ca-chain.cert
${alt}ctrl:
  endpoint: tls:${o.controller}
link:
  dialers:
    - binding: transport
listeners:
  - binding: edge
    address: tls:${o.listenHost}:${o.tlsPort}
    options:
      advertise: ${o.advertiseHost}:${o.tlsPort}
  - binding: edge
    address: wss:${o.listenHost}:${o.wssPort}
    options:
      advertise: ${o.wssAdvertiseHost ?? o.advertiseHost}:${o.wssPort}
edge:
  csr:
    sans:
      dns: [${sans.dns.join(', ')}]
      ip: [${sans.ip.map((ip) => `"${ip}"`).join(', ')}]
`;
}

/**
 * A command as a person types it: arguments quoted for a POSIX shell where they need it (a word
 * that starts with `#`, such as a role `#chat`, would start a comment).
 */
export function shellLine(argv: Argv): string {
  return ['ziti', ...argv]
    .map((a) => (a === SIGNER_ID || /^[\w@%+=:,./-][\w@%+=:,./#-]*$/.test(a) ? a : `'${a}'`))
    .join(' ');
}

/**
 * What a dial of an intercepted service carries: AppData naming the target (reference §7) and the
 * service's `intercept.v1` `dialOptions` (reference §1.7): `identity` becomes the Connect's
 * TerminatorIdentity, `connectTimeoutSeconds` bounds Connect -> StateConnected (unset: the dial's
 * 15 s default).
 */
import type { DialOptions, InterceptV1 } from '../../shared/ziti/index.ts';

export type InterceptDialOptions = Pick<
  DialOptions,
  'appData' | 'terminatorIdentity' | 'connectTimeoutMs'
>;

export function interceptDialOptions(
  intercept: InterceptV1 | undefined,
  target: { host: string; port: number },
): InterceptDialOptions {
  const protocol = 'tcp';
  const port = String(target.port);
  const options: InterceptDialOptions = {
    appData: { dst_protocol: protocol, dst_hostname: target.host, dst_port: port },
  };
  const { identity, connectTimeoutSeconds } = intercept?.dialOptions ?? {};
  if (typeof identity === 'string' && identity !== '') {
    // The documented template variables. A browser knows only the name it asked for, so `$dst_ip`
    // is that name (a tunneler would put the intercepted IP).
    const vars: Record<string, string> = { protocol, ip: target.host, port };
    options.terminatorIdentity = identity.replace(
      /\$dst_(protocol|ip|port)/g,
      (_, key: string) => vars[key] ?? '',
    );
  }
  if (typeof connectTimeoutSeconds === 'number' && connectTimeoutSeconds > 0) {
    options.connectTimeoutMs = connectTimeoutSeconds * 1000;
  }
  return options;
}

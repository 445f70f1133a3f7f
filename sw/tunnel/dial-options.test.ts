import { describe, expect, it } from 'vitest';
import type { InterceptV1 } from '../../shared/ziti/index.ts';
import { interceptDialOptions } from './dial-options.ts';

const intercept = (dialOptions?: InterceptV1['dialOptions']): InterceptV1 => ({
  protocols: ['tcp'],
  addresses: ['chat.corp'],
  portRanges: [{ low: 80, high: 80 }],
  ...(dialOptions ? { dialOptions } : {}),
});
const target = { host: 'chat.corp', port: 80 };

describe('interceptDialOptions', () => {
  it('without dialOptions: AppData only (no TerminatorIdentity, default timeout)', () => {
    expect(interceptDialOptions(intercept(), target)).toEqual({
      appData: { dst_protocol: 'tcp', dst_hostname: 'chat.corp', dst_port: '80' },
    });
    expect(interceptDialOptions(undefined, target)).not.toHaveProperty('terminatorIdentity');
  });

  it('identity becomes the TerminatorIdentity, connectTimeoutSeconds the dial bound', () => {
    const o = interceptDialOptions(
      intercept({ identity: 'host-a', connectTimeoutSeconds: 7 }),
      target,
    );
    expect(o.terminatorIdentity).toBe('host-a');
    expect(o.connectTimeoutMs).toBe(7000);
  });

  it('resolves $dst_protocol, $dst_ip and $dst_port in the identity', () => {
    const o = interceptDialOptions(intercept({ identity: '$dst_protocol:$dst_ip:$dst_port' }), {
      host: '10.1.2.3',
      port: 8443,
    });
    expect(o.terminatorIdentity).toBe('tcp:10.1.2.3:8443');
  });

  it('ignores an empty identity and a zero timeout', () => {
    const o = interceptDialOptions(intercept({ identity: '', connectTimeoutSeconds: 0 }), target);
    expect(o).not.toHaveProperty('terminatorIdentity');
    expect(o).not.toHaveProperty('connectTimeoutMs');
  });
});

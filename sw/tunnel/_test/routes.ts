/** One worker's routing situation, shared by the tests of the decisions made on it. */
import type { BootstrapConfig } from '../../../shared/config/bootstrap-config.ts';
import type { RouteContext } from '../../../shared/routing/route-decision.ts';

export const publicOrigin = 'https://chat.example.com';

/** The app's service `chat`, with one extra intercept (`cdn.corp.example:443`). */
export const config: BootstrapConfig = {
  controller: 'https://ctrl.example.com',
  service: 'chat',
  extraIntercepts: ['cdn.corp.example:443'],
  upstreamHost: 'public',
  controllerAuth: 'auto',
};

/** The app at `publicOrigin`, and a dialable service `files` for `files.corp.example:443`. */
export const routes: RouteContext = {
  publicOrigin,
  appService: 'chat',
  intercepts: [
    {
      name: 'files',
      intercept: {
        protocols: ['tcp'],
        addresses: ['files.corp.example'],
        portRanges: [{ low: 443, high: 443 }],
      },
    },
  ],
  extraIntercepts: config.extraIntercepts,
};

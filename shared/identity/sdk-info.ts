import { BUILD_VERSION } from '../version.ts';

/** Config types we ask the controller for: intercepts (which hosts to carry) and hosting info. */
export const CONFIG_TYPES = ['intercept.v1', 'host.v1'] as const;

/** How this client names itself to the controller (`sdkInfo`, reference §1.4). */
export const SDK_INFO = {
  type: 'zt-browser',
  version: BUILD_VERSION,
  branch: 'main',
  revision: BUILD_VERSION,
} as const;

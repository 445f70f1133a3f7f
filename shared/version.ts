/** The build's version: reported in the worker's status and `x-zt-sw` header and to the controller. */
export const BUILD_VERSION = '0.1.0';

/** Our own assets live under this prefix; it is never forwarded to the dark app. */
export const RESERVED_PREFIX = '/__zt/';

/** Header the service worker puts on every response it builds itself (diagnostics and tests). */
export const SW_HEADER = 'x-zt-sw';

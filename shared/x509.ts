/** @peculiar/x509 for every layer, loaded after the Reflect metadata shim its dependency injection needs. */
export * from './tls/_internal/x509.ts';

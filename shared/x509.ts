/**
 * @peculiar/x509 for the Node side (dev fabric, tests), loaded after the Reflect metadata shim its
 * dependency injection needs. Product code that runs in the service worker uses `asn1/` instead:
 * this stack costs tens of milliseconds at every module load.
 */
import './reflect-shim.ts';

export * from '@peculiar/x509';

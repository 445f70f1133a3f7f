/** @peculiar/x509, loaded after the Reflect shim it needs. */
import './reflect-shim.ts';

export * from '@peculiar/x509';

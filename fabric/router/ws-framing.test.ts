/**
 * The wss listener frames its inner TLS as a real edge router does (§5): every WebSocket message
 * holds whole TLS records, one record per message outside the handshake flight.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ControllerClient, dialService } from '../../shared/ziti/index.ts';
import type { RunningFabric } from '../fabric.ts';
import { standardCsr } from '../testing/csr.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import { openClientChannel } from '../testing/node-client.ts';
import { TlsFraming } from '../testing/tls-framing.ts';

let fabric: RunningFabric;

beforeAll(async () => {
  fabric = await startTestFabric({
    services: [
      { name: 'app', roleAttributes: ['demo'], hosting: 'router', target: 'demo-app', configs: {} },
    ],
  });
});
afterAll(() => fabric?.close());

it('a 64 MiB download arrives as whole TLS records, one per message outside the handshake', async () => {
  const client = new ControllerClient({ baseUrl: fabric.controller.url });
  await client.authenticatePassword(TEST_USER.name, TEST_USER.password);
  const { csrPem, keyPem } = await standardCsr();
  const cert = await client.createSessionCertificate(csrPem);
  const creds = {
    certChainPem: cert.certificate,
    keyPem,
    caPem: (await client.caBundle()).join('\n'),
  };
  const svc = (await client.services()).find((s) => s.name === 'app')!;
  const session = await client.createSession(svc.id, 'Dial');

  const framing = new TlsFraming();
  const { channel } = await openClientChannel(
    { wsUrl: fabric.router.urls.wss!, onMessage: (m) => framing.push(m) },
    creds,
    client.auth.sessionToken!,
  );
  const conn = await dialService(channel, {
    sessionToken: session.token,
    encryptionRequired: true,
  });
  const n = 64 * 1024 * 1024;
  const writer = conn.writable.getWriter();
  await writer.write(
    new TextEncoder().encode(
      `GET /bytes?n=${n} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n`,
    ),
  );
  writer.releaseLock();
  let received = 0;
  for await (const chunk of conn.readable as unknown as AsyncIterable<Uint8Array>) {
    received += chunk.length;
  }
  await channel.close();
  console.log(`fabric wss framing (64 MiB download): ${framing}`);

  expect(received).toBeGreaterThan(n);
  expect(framing.bytes).toBeGreaterThan(n);
  expect(framing.misaligned, 'messages that are not whole records').toBe(0);
  expect(framing.multiRecord, 'non-handshake messages with several records').toBe(0);
  expect(framing.flights).toBeGreaterThanOrEqual(1);
  expect(framing.messages, 'at most 16 KiB of plaintext a record').toBeGreaterThan(n / 16384);
});

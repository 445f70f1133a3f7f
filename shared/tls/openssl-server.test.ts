/** Against `openssl s_server -tls1_3 -Verify 1`, including server-forced KeyUpdate (stdin k / K). */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempFiles } from './_test/files.ts';
import { connectNode } from './_test/node-peer.ts';
import { createPki, type TestPki } from './_test/pki.ts';
import { connectTls } from './index.ts';

let pki: TestPki;
const files = tempFiles('zt-tls-openssl');
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  pki = await createPki();
});
afterAll(() => {
  for (const c of children) c.kill();
  files.cleanup();
});

function startSServer(args: string[]) {
  const child = spawn('openssl', [
    's_server',
    '-tls1_3',
    '-accept',
    '127.0.0.1:0',
    '-naccept',
    '1',
    '-msg',
    ...args,
  ]);
  children.push(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  const waitFor = (pattern: RegExp, ms = 5000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        const m = out.match(pattern);
        if (m) return resolve(m);
        if (Date.now() - started > ms) return reject(new Error(`no ${pattern} in:\n${out}`));
        setTimeout(check, 10);
      };
      check();
    });
  return { child, waitFor, output: () => out };
}

async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, text: string) {
  let got = '';
  const decoder = new TextDecoder();
  while (!got.includes(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before "${text}"; got "${got}"`);
    got += decoder.decode(value, { stream: true });
  }
  return got;
}

describe('openssl s_server -tls1_3 -Verify 1', () => {
  it('authenticates the client, exchanges data, and follows server-forced KeyUpdates', async () => {
    const s = startSServer([
      '-cert',
      files.write('server.pem', pki.serverEc.pem),
      '-cert_chain',
      files.write('chain.pem', pki.intermediate.pem),
      '-key',
      files.write('server.key', pki.serverEc.keyPem!),
      '-CAfile',
      files.write('root.pem', pki.root.pem),
      '-Verify',
      '1',
      '-verify_return_error',
      '-ciphersuites',
      'TLS_CHACHA20_POLY1305_SHA256',
      '-groups',
      'P-256',
    ]);
    const port = Number((await s.waitFor(/ACCEPT [^\n]*:(\d+)/))[1]);
    const conn = await connectTls(await connectNode(port), {
      serverName: 'localhost',
      trustedCertificates: [pki.root.der],
      clientCertificateChain: [pki.client.der],
      clientKey: pki.client.keys.privateKey,
    });
    expect(conn.cipherSuite).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(conn.group).toBe('secp256r1');
    const writer = conn.writable.getWriter();
    const reader = conn.readable.getReader();
    const enc = new TextEncoder();

    await writer.write(enc.encode('ping-one\n'));
    await s.waitFor(/ping-one/);

    // K: KeyUpdate with update_requested; we must rotate our read keys and answer with our own.
    s.child.stdin.write('K\n');
    await s.waitFor(/>>> [^\n]*KeyUpdate/);
    s.child.stdin.write('after-K\n');
    await readUntil(reader, 'after-K');
    await writer.write(enc.encode('ping-two\n'));
    await s.waitFor(/ping-two/);
    expect(s.output()).toMatch(/<<< [^\n]*KeyUpdate/); // our answering KeyUpdate

    // k: KeyUpdate without request.
    // s_server drops the rest of a stdin read that began with a command: one line at a time.
    s.child.stdin.write('k\n');
    await s.waitFor(/>>> [^\n]*KeyUpdate[\s\S]*>>> [^\n]*KeyUpdate/);
    s.child.stdin.write('after-k\n');
    await readUntil(reader, 'after-k');
    await writer.write(enc.encode('ping-three\n'));
    await s.waitFor(/ping-three/);
    expect(s.output().match(/>>> [^\n]*KeyUpdate/g)).toHaveLength(2);
    expect(s.output()).not.toMatch(/verify error|alert/i);
    writer.releaseLock();
    reader.releaseLock();
    await conn.close();
  });
});

describe('openssl s_server refusing the client certificate', () => {
  it('surfaces its alert as ERR_TLS_CLIENT_CERTIFICATE_REFUSED', async () => {
    const s = startSServer([
      '-cert',
      files.write('server2.pem', pki.serverEc.pem),
      '-cert_chain',
      files.write('chain2.pem', pki.intermediate.pem),
      '-key',
      files.write('server2.key', pki.serverEc.keyPem!),
      '-CAfile',
      files.write('root2.pem', pki.root.pem),
      '-Verify',
      '1',
      '-verify_return_error',
    ]);
    const port = Number((await s.waitFor(/ACCEPT [^\n]*:(\d+)/))[1]);
    const conn = await connectTls(await connectNode(port), {
      trustedCertificates: [pki.root.der],
      clientCertificateChain: [pki.otherClient.der],
      clientKey: pki.otherClient.keys.privateKey,
    });
    const err = await conn.readable
      .getReader()
      .read()
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_TLS_CLIENT_CERTIFICATE_REFUSED', alert: 48 });
  });
});

/**
 * The simulated world's throwaway STARTTLS certificate ("tls": "self-signed", the demo world's
 * setting, so an installed package needs no key file): made by openssl for the MX host names, valid
 * two days, its key matching; a clear reason instead when openssl is missing, and the world then
 * runs without STARTTLS.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { makeSelfSignedCertificate } from '../../src/world/self-signed-certificate.ts';
import { loadWorldSpecFile, startMailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';

/** EHLO on a fresh connection; resolves with the EHLO reply's lines. */
async function ehloLines(port: number, host: string): Promise<string[]> {
  const socket = net.connect(port, host);
  let buffer = '';
  const replies: string[][] = [];
  let current: string[] = [];
  const waitFor = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (replies.length >= n ? resolve() : undefined);
      socket.on('data', (d: Buffer) => {
        buffer += d.toString();
        let i: number;
        while ((i = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          current.push(line);
          if (line[3] === ' ') {
            replies.push(current);
            current = [];
          }
        }
        check();
      });
      socket.once('error', reject);
      check();
    });
  try {
    await waitFor(1);
    socket.write('EHLO client.test\r\n');
    await waitFor(2);
    socket.write('QUIT\r\n');
    return replies[1]!;
  } finally {
    socket.destroy();
  }
}

describe('makeSelfSignedCertificate', () => {
  it('makes a certificate for the MX host names with a matching key, valid for two days', async () => {
    const made = await makeSelfSignedCertificate(['mx1.world.test', 'mx2.world.test']);
    if ('unavailable' in made) throw new Error(made.unavailable);
    const cert = new X509Certificate(made.cert);
    expect(cert.subject).toBe('CN=mx1.world.test');
    expect(cert.subjectAltName).toBe('DNS:mx1.world.test, DNS:mx2.world.test');
    expect(cert.checkPrivateKey(createPrivateKey(made.key))).toBe(true);
    const validHours = (Date.parse(cert.validTo) - Date.now()) / 3_600_000;
    expect(validHours).toBeGreaterThan(47);
    expect(validHours).toBeLessThan(49);
  });

  it('says why when there is no openssl command', async () => {
    expect(await makeSelfSignedCertificate(['mx.world.test'], { openssl: '/nonexistent/openssl' })).toEqual({ unavailable: 'no "/nonexistent/openssl" command to make a self-signed certificate' });
  });
});

describe('a world with "tls": "self-signed"', () => {
  it('the demo world offers STARTTLS with its own certificate', async () => {
    const world = await startMailWorld(await loadWorldSpecFile('samples/world.json'));
    try {
      expect(world.tlsUnavailable).toBeNull();
      expect(await ehloLines(world.smtpPort, '127.0.0.11')).toContain('250-STARTTLS');
    } finally {
      await world.stop();
    }
  });

  it('without a certificate the MTAs do not offer STARTTLS', async () => {
    const spec = parseWorldSpec({ mxHosts: { 'mx.plain.test': { ip: '127.0.6.1', behaviour: { starttls: true } } }, domains: { 'plain.test': { mx: [{ host: 'mx.plain.test', preference: 10 }], mailboxes: ['a'] } } });
    const world = await startMailWorld(spec, { tls: null });
    try {
      expect((await ehloLines(world.smtpPort, '127.0.6.1')).join('\n')).not.toContain('STARTTLS');
    } finally {
      await world.stop();
    }
  });
});

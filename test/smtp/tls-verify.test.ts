/**
 * `--require-tls` (tls 'required') verifies the MX certificate like MTA-STS "enforce": a chain to a
 * trusted CA (the system's, plus HYGIENE_TLS_CA_FILE) and the MX host name (SAN, wildcards per RFC
 * 6125). Opportunistic TLS stays unverified (Postfix "may"). Fixtures: test/fixtures/tls/generate.sh
 * (a throwaway test CA; never a real CA's key).
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.ts';
import { isHygieneError, isSmtpError, type SmtpError } from '../../src/errors.ts';
import { SmtpSession, type SmtpSessionOptions } from '../../src/smtp/smtp-session.ts';
import { startScriptedSmtpServer, type ScriptedSmtpServer } from '../peers/scripted-smtp-server.ts';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url), 'utf8');
const TEST_CA = fixture('test-ca.cert.pem');
const CERTS = {
  valid: { key: fixture('mx.tls.test.key.pem'), cert: fixture('mx.tls.test.cert.pem') },
  wildcard: { key: fixture('wildcard.tls.test.key.pem'), cert: fixture('wildcard.tls.test.cert.pem') },
  wrongName: { key: fixture('other.test.key.pem'), cert: fixture('other.test.cert.pem') },
  selfSigned: { key: fixture('mx.self.test.key.pem'), cert: fixture('mx.self.test.cert.pem') },
};

const servers: ScriptedSmtpServer[] = [];
const sessions: SmtpSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  for (const server of servers.splice(0)) await server.close();
});

/** A server that offers STARTTLS with `certificate`, then EHLO again and QUIT. */
async function tlsServer(certificate: { key: string; cert: string }): Promise<ScriptedSmtpServer> {
  const server = await startScriptedSmtpServer(async (c) => {
    c.send('220 mx ESMTP\r\n');
    await c.expectLine(/^EHLO /);
    c.send('250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
    await c.expectLine(/^STARTTLS$/);
    c.send('220 2.0.0 Ready to start TLS\r\n');
    // A client that refuses the certificate aborts the handshake: not a script error here.
    if (!(await c.startTls(certificate).then(() => true, () => false))) return;
    await c.expectLine(/^EHLO /);
    c.send('250-mx\r\n250 PIPELINING\r\n');
    await c.expectLine(/^QUIT$/);
    c.send('221 2.0.0 Bye\r\n');
    c.end();
  });
  servers.push(server);
  return server;
}

async function open(server: ScriptedSmtpServer, extra: Partial<SmtpSessionOptions>): Promise<SmtpSession> {
  const session = await SmtpSession.open({
    host: server.host,
    port: server.port,
    serverName: 'mx.tls.test',
    heloName: 'probe.example.org',
    tls: 'required',
    tlsCa: TEST_CA,
    timeouts: { connectMs: 1_000, greetingMs: 1_000, commandMs: 1_000 },
    ...extra,
  });
  sessions.push(session);
  return session;
}

async function failure(promise: Promise<unknown>): Promise<SmtpError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isSmtpError(err)) throw new Error(`expected an SMTP error, got ${String(err)}`);
  return err;
}

describe('tls required: the certificate is verified', () => {
  it('a certificate for the MX name from a trusted CA passes', async () => {
    const session = await open(await tlsServer(CERTS.valid), {});
    expect(session.tlsActive).toBe(true);
    await session.quit();
  });

  it('a wildcard certificate covers one leftmost label only (RFC 6125)', async () => {
    const session = await open(await tlsServer(CERTS.wildcard), { serverName: 'mx.wild.tls.test' });
    expect(session.tlsActive).toBe(true);
    await session.quit();
    const err = await failure(open(await tlsServer(CERTS.wildcard), { serverName: 'a.mx.wild.tls.test' }));
    expect(err.code).toBe('SMTP_TLS_FAILED');
    expect(err.context.certificate).toBe(true);
  });

  it('the wrong name fails, saying so', async () => {
    const err = await failure(open(await tlsServer(CERTS.wrongName), {}));
    expect(err.code).toBe('SMTP_TLS_FAILED');
    expect(err.context.certificate).toBe(true);
    expect(err.message).toMatch(/The TLS certificate of mx\.tls\.test could not be verified .*: Hostname\/IP does not match certificate's altnames.*DNS:other\.test/);
  });

  it('a self-signed certificate fails, even with the right name', async () => {
    const err = await failure(open(await tlsServer(CERTS.selfSigned), { serverName: 'mx.self.test' }));
    expect(err.code).toBe('SMTP_TLS_FAILED');
    expect(err.message).toMatch(/could not be verified .*self[- ]signed certificate/);
  });

  it('a chain to a CA that is not trusted (no HYGIENE_TLS_CA_FILE) fails', async () => {
    const err = await failure(open(await tlsServer(CERTS.valid), { tlsCa: undefined }));
    expect(err.code).toBe('SMTP_TLS_FAILED');
    expect(err.message).toMatch(/could not be verified .*(unable to get local issuer certificate|unable to verify the first certificate)/);
  });

  it('opportunistic TLS does not verify (a self-signed or wrong-name certificate still encrypts)', async () => {
    for (const certificate of [CERTS.selfSigned, CERTS.wrongName]) {
      const session = await open(await tlsServer(certificate), { tls: 'opportunistic', tlsCa: undefined });
      expect(session.tlsActive).toBe(true);
      await session.quit();
    }
  });
});

describe('HYGIENE_TLS_CA_FILE', () => {
  it('is read and checked at start-up', () => {
    const ca = fileURLToPath(new URL('../fixtures/tls/test-ca.cert.pem', import.meta.url));
    expect(loadConfig({ HYGIENE_TLS: 'required', HYGIENE_TLS_CA_FILE: ca }).smtp.tlsCa).toContain('-----BEGIN CERTIFICATE-----');
    expect(loadConfig({}).smtp.tlsCa).toBeUndefined();
    const missing = (() => {
      try {
        loadConfig({ HYGIENE_TLS_CA_FILE: '/nonexistent/ca.pem' });
      } catch (err) {
        return err;
      }
    })();
    expect(isHygieneError(missing, 'CONFIG_INVALID') && missing.message).toMatch(/HYGIENE_TLS_CA_FILE: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/);
    const notPem = fileURLToPath(new URL('./tls-verify.test.ts', import.meta.url));
    expect(() => loadConfig({ HYGIENE_TLS_CA_FILE: notPem })).toThrow(/holds no PEM certificate/);
  });
});


/**
 * A throwaway self-signed certificate for the simulated world's STARTTLS (world spec "tls":
 * "self-signed"), so the demo shows TLS from an installed package, which ships no key: the
 * repository's test certificate and its private key stay out of the tarball. Made by the `openssl`
 * command (Node can read certificates but not issue them): an EC P-256 key and a certificate for
 * the world's MX host names, valid for two days, kept in memory only. Without `openssl` the world
 * runs without STARTTLS and says why (STARTTLS is opportunistic: the verdicts do not change).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type SelfSignedCertificate = { cert: Buffer; key: Buffer } | { unavailable: string };

export async function makeSelfSignedCertificate(hostnames: readonly string[], options: { openssl?: string } = {}): Promise<SelfSignedCertificate> {
  const openssl = options.openssl ?? 'openssl';
  const names = hostnames.length > 0 ? hostnames : ['localhost'];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-world-tls-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    await run(openssl, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2',
      '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
    ], { timeout: 10_000 });
    return { cert: await readFile(certFile), key: await readFile(keyFile) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? `no "${openssl}" command to make a self-signed certificate` : `${openssl} failed: ${(e.stderr || e.message).trim().split('\n')[0]}`;
    return { unavailable: why };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

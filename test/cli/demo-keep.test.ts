/**
 * `hygiene demo --keep` (issue 16, "try everything offline"): a child process runs the demo, keeps
 * the simulated world up and prints export lines; with only those lines as their environment,
 * `hygiene probe`, `hygiene verify samples/contacts.csv` and `hygiene doctor --domain acme.test` work
 * against it; SIGINT stops it cleanly and nothing is left listening. The demo uses the prefix it is
 * given (HYGIENE_PREFIX) and clears nothing there.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { ListReport } from '../../src/collector/report.ts';
import { clearPrefix, killChild, REDIS_URL, removeDir, ROOT, runCli, tempDir, uniquePrefix, waitFor, type CliRun } from '../faults/fault-helpers.ts';

const children: CliRun[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const child of children) await killChild(child);
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** `export NAME=value` lines as a shell would read them (plain words, or single-quoted). */
function readExports(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const raw = match[2]!;
    env[match[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replaceAll("'\\''", "'") : raw;
  }
  return env;
}

/** Resolves true when something accepts a TCP connection at host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe('hygiene demo --keep', () => {
  it('keeps the world up, prints exports that point probe, verify and doctor at it, and stops cleanly on SIGINT', async () => {
    const prefix = uniquePrefix('demokeep');
    const dir = await tempDir('demokeep');
    cleanups.push(() => clearPrefix(prefix), () => removeDir(dir));
    // The user's prefix holds something already: the demo must not clear it.
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    await redis.set(`${prefix}:mine`, 'keep me');

    const demo = runCli(['demo', '--keep', '--out', path.join(dir, 'demo-results')], { REDIS_URL, HYGIENE_PREFIX: prefix });
    children.push(demo);
    await waitFor('the export lines', () => demo.stdout().includes('# Ctrl-C here stops the world.') || demo.child.exitCode !== null, 90_000);
    expect(demo.child.exitCode, demo.stderr()).toBeNull();
    // The sample run happened first, and the servers never saw DATA.
    expect(demo.stdout()).toContain('What the simulated mail servers saw');
    const exports = readExports(demo.stdout());
    for (const name of ['REDIS_URL', 'HYGIENE_PREFIX', 'HYGIENE_DNS_SERVERS', 'HYGIENE_SMTP_PORT', 'HYGIENE_HELO_NAME', 'HYGIENE_MAIL_FROM', 'HYGIENE_MX_PAUSE_MS', 'HYGIENE_SESSIONS_PER_MINUTE_PER_MX', 'HYGIENE_DNS_CANARIES', 'HYGIENE_API_ALLOW_PRIVATE_MX', 'HYGIENE_API_KEYS']) {
      expect(Object.keys(exports), name).toContain(name);
    }
    expect(exports).toMatchObject({ REDIS_URL, HYGIENE_PREFIX: prefix, HYGIENE_DNS_CANARIES: '', HYGIENE_API_ALLOW_PRIVATE_MX: 'true' });
    expect(exports.HYGIENE_API_KEYS).toMatch(/^demo:demo-[\w-]{24}$/);
    expect(await redis.get(`${prefix}:mine`)).toBe('keep me');

    // Every other command, with nothing but the exports (no LOG_LEVEL, no test settings).
    const cli = async (args: string[]) => {
      const run = runCli(args, exports);
      children.push(run);
      const { code } = await run.exit;
      return { code, stdout: run.stdout(), stderr: run.stderr() };
    };
    const probe = await cli(['probe', 'jane@acme.test']);
    expect(probe.code, probe.stderr).toBe(0);
    expect(probe.stdout).toContain('Verdict: deliverable / accepted');
    expect(probe.stdout).toContain('[catch-all probe]');

    const out = path.join(dir, 'results');
    const verify = await cli(['verify', 'samples/contacts.csv', '--out', out]);
    expect(verify.code, verify.stderr).toBe(0);
    const report = JSON.parse(await readFile(path.join(out, 'contacts.report.json'), 'utf8')) as ListReport;
    expect(report.rows).toBe(49);
    expect(report.counts.byReason.mailbox_not_found).toBeGreaterThan(0);

    const doctor = await cli(['doctor', '--domain', 'acme.test']);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/\[OK {2}\] DNS: 127\.0\.0\.1:\d+ resolved acme\.test/);
    expect(doctor.stdout).toMatch(/\[OK {2}\] Outbound SMTP: Connected to mx[12]\.mailhost\.test/);

    // Ctrl-C: a clean stop, and nothing of the world is left listening.
    const [dnsHost, dnsPort] = exports.HYGIENE_DNS_SERVERS!.split(':');
    const smtpPort = Number(exports.HYGIENE_SMTP_PORT);
    expect(await listening(dnsHost!, Number(dnsPort))).toBe(true);
    expect(await listening('127.0.0.11', smtpPort)).toBe(true);
    demo.child.kill('SIGINT');
    expect((await demo.exit).code).toBe(130);
    for (const [host, port] of [[dnsHost!, Number(dnsPort)], ['127.0.0.11', smtpPort], ['127.0.0.12', smtpPort], ['127.0.0.16', smtpPort], ['127.0.0.20', smtpPort]] as const) {
      expect(await listening(host, port), `${host}:${port}`).toBe(false);
    }
    expect(await redis.get(`${prefix}:mine`)).toBe('keep me');
  }, 180_000);

  it('hygiene world: the same world without the sample run; --world providers picks the providers world; --fresh clears only when asked', async () => {
    const prefix = uniquePrefix('worldcmd');
    cleanups.push(() => clearPrefix(prefix));
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    await redis.set(`${prefix}:old`, 'x');
    const world = runCli(['world', '--world', 'providers', '--fresh'], { REDIS_URL, HYGIENE_PREFIX: prefix });
    children.push(world);
    await waitFor('the export lines', () => world.stdout().includes('# Ctrl-C here stops the world.') || world.child.exitCode !== null, 60_000);
    expect(world.stdout()).not.toContain('What the simulated mail servers saw');
    expect(world.stdout()).toContain('samples/world-providers.json');
    expect(world.stdout()).toContain(`Cleared every Redis key under "${prefix}:" (--fresh).`);
    expect(await redis.get(`${prefix}:old`)).toBeNull();
    const exports = readExports(world.stdout());
    const probe = runCli(['probe', 'john.smith@gmail.com'], exports);
    children.push(probe);
    expect((await probe.exit).code, probe.stderr()).toBe(0);
    expect(probe.stdout()).toMatch(/gmail-smtp-in\.l\.google\.com/);
    world.child.kill('SIGTERM');
    expect((await world.exit).code).toBe(143);
  }, 120_000);
});

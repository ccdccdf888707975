/**
 * The machine most containers and VMs are (issue 11): host name a single label ("vm"), no
 * HYGIENE_HELO_NAME set. Played for real: the CLI runs in its own UTS namespace (`unshare --uts`,
 * as root) under that host name, and with `--mount` over a hosts file of our own.
 *
 * - Commands that probe (verify, worker, probe) stop at start-up with exit code 2 and one line naming
 *   HYGIENE_HELO_NAME; nothing is enqueued.
 * - Commands that never probe (status, suppress, schedule list, verify --syntax-only) still run.
 * - When /etc/hosts gives the host a public FQDN (like `hostname -f`), that is the HELO name.
 * - Set HYGIENE_HELO_NAME, and the same verify runs and gets the right answers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/run-list.ts';
import { CLI_BIN } from '../helpers/cli-bin.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = CLI_BIN; // the compiled CLI, as users run it

function unshareAvailability(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'unshare --uts needs root' };
  const probe = spawnSync('unshare', ['--uts', '--mount', '--propagation', 'private', 'sh', '-c', 'hostname vm && mount --bind /etc/hosts /etc/hosts && hostname'], { encoding: 'utf8' });
  if (probe.error) return { ok: false, reason: `unshare is not available: ${probe.error.message}` };
  if (probe.status !== 0 || probe.stdout.trim() !== 'vm') return { ok: false, reason: `unshare --uts --mount does not work here: ${probe.stderr.trim()}` };
  return { ok: true };
}

const availability = unshareAvailability();
if (!availability.ok) process.stderr.write(`[helo identity] skipped: ${availability.reason}\n`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a machine named `hostname`, optionally with `hosts` as its /etc/hosts. */
function asMachine(hostname: string, hosts: string | null, args: string[], env: Record<string, string>): Promise<Run> {
  const mount = hosts === null ? '' : `mount --bind "$HOSTS_FILE" /etc/hosts && `;
  const script = `${mount}hostname ${hostname} && exec "$NODE" "$BIN" "$@"`;
  return new Promise((resolve) => {
    const child = spawn('unshare', ['--uts', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), NODE: process.execPath, BIN, HOSTS_FILE: hosts ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!availability.ok)('a single-label host name and no HYGIENE_HELO_NAME (unshare --uts, host name "vm")', () => {
  let world: MailWorld;
  let prefix: string;
  let dir: string;
  let input: string;
  let redis: Redis;
  /** The world's settings, without HELO name and sender: what a user who set nothing has. */
  let env: Record<string, string>;
  const plainHosts = '127.0.0.1 localhost\n127.0.0.1 vm\n';

  beforeAll(async () => {
    world = await startMailWorld(await loadWorldSpecFile(path.join(ROOT, 'samples/world.json')));
    prefix = uniquePrefix('helo');
    dir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-helo-'));
    input = path.join(dir, 'contacts.csv');
    await writeFile(input, 'email\njohn.doe@acme.test\njhon.doe@acme.test\n');
    await writeFile(path.join(dir, 'hosts-vm'), plainHosts);
    await writeFile(path.join(dir, 'hosts-fqdn'), '127.0.0.1 localhost\n127.0.1.1\tbox.example.net box\n');
    const { HYGIENE_HELO_NAME: _helo, HYGIENE_MAIL_FROM: _from, ...rest } = demoEnvironment(world.dnsServers, world.smtpPort);
    env = { ...rest, REDIS_URL, HYGIENE_PREFIX: prefix };
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await world?.stop();
    await deletePrefix(prefix);
    redis?.disconnect();
  });

  const keys = async (): Promise<string[]> => (await redis.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 10_000))[1];

  it('verify, worker and probe stop at start-up: exit 2, one line naming HYGIENE_HELO_NAME, nothing enqueued', async () => {
    for (const args of [['verify', input, '--out', dir], ['worker'], ['probe', 'john.doe@acme.test']]) {
      const run = await asMachine('vm', path.join(dir, 'hosts-vm'), args, env);
      expect(run.code, `${args[0]}: ${run.stderr}`).toBe(2);
      const lines = run.stderr.trim().split('\n');
      expect(lines, args[0]).toHaveLength(1);
      expect(lines[0]).toMatch(/^hygiene: HYGIENE_HELO_NAME is not set and this host's name "vm" is not a public fully qualified domain name/);
      expect(lines[0]).toContain('e.g. HYGIENE_HELO_NAME=verify.example.com');
    }
    expect(await keys()).toEqual([]);
  });

  it('commands that never probe still run', async () => {
    expect((await asMachine('vm', path.join(dir, 'hosts-vm'), ['suppress', 'list'], env)).code).toBe(0);
    expect((await asMachine('vm', path.join(dir, 'hosts-vm'), ['schedule', 'list'], env)).code).toBe(0);
    const status = await asMachine('vm', path.join(dir, 'hosts-vm'), ['status', 'nosuchlist'], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('No list nosuchlist');
    const syntax = await asMachine('vm', path.join(dir, 'hosts-vm'), ['verify', input, '--out', path.join(dir, 'syntax'), '--syntax-only'], env);
    expect(syntax.code, syntax.stderr).toBe(0);
  });

  it('takes the FQDN /etc/hosts gives the host (like hostname -f) as its HELO name', async () => {
    const run = await asMachine('box', path.join(dir, 'hosts-fqdn'), ['probe', 'john.doe@acme.test', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { transcript: Array<{ direction: string; text: string }>; verdict: { status: string } };
    const sent = result.transcript.filter((l) => l.direction === 'client').map((l) => l.text);
    expect(sent[0]).toBe('EHLO box.example.net');
    expect(sent.some((c) => c.startsWith('MAIL FROM:<verify@box.example.net>'))).toBe(true);
    expect(result.verdict.status).toBe('deliverable');
  });

  it('with HYGIENE_HELO_NAME set, the same verify runs and gets the right answers', async () => {
    const out = path.join(dir, 'fixed');
    const run = await asMachine('vm', path.join(dir, 'hosts-vm'), ['verify', input, '--out', out, '--json'], { ...env, HYGIENE_HELO_NAME: 'verifier.demo.test', HYGIENE_MAIL_FROM: 'verify@demo.test' });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(await readFile(path.join(out, 'contacts.report.json'), 'utf8')) as { counts: { byReason: Record<string, number> } };
    expect(report.counts.byReason).toEqual({ accepted: 1, mailbox_not_found: 1 });
  });
});

/**
 * A private postgrey (Debian's `postgrey` package, the greylisting policy server for Postfix) for
 * integration tests: foreground process on one loopback port, its database in a temp directory,
 * empty client/recipient whitelists and no auto-whitelisting, so every new (client /24, sender,
 * recipient) triplet is greylisted for `delaySeconds`. The system's postgrey (if any) is left alone.
 *
 * postgrey logs each decision to stderr when not daemonized, e.g.
 *   action=greylist, reason=new, client_name=unknown, client_address=127.0.0.1, sender=a@b, recipient=x@d
 *   action=pass, reason=triplet found, ...  (prefixed with "QUEUEID: " once Postfix has a queue id)
 * `decisions()` parses those lines, so a test can prove the retry came with the same triplet.
 *
 * Needs the `postgrey` package and root (postgrey drops to the `postgrey` user, which must be able
 * to write the database directory).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const POSTGREY = '/usr/sbin/postgrey';

export type PostgreyAvailability = { ok: true; version: string } | { ok: false; reason: string };

export async function postgreyAvailability(): Promise<PostgreyAvailability> {
  try {
    await access(POSTGREY);
  } catch {
    return { ok: false, reason: `${POSTGREY} is missing: install postgrey (apt-get install postgrey)` };
  }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'postgrey must start as root to drop to the postgrey user' };
  try {
    const { stdout } = await run(POSTGREY, ['--version']);
    return { ok: true, version: stdout.trim() };
  } catch (err) {
    return { ok: false, reason: `postgrey --version failed: ${(err as Error).message}` };
  }
}

export interface PostgreyDecision {
  action: string;
  reason: string;
  clientAddress: string;
  sender: string;
  recipient: string;
}

export interface PrivatePostgrey {
  readonly port: number;
  /** `inet:127.0.0.1:PORT`, for check_policy_service. */
  readonly policyService: string;
  /** Everything postgrey wrote to stdout/stderr so far. */
  output(): string;
  decisions(): PostgreyDecision[];
  /** Kills the process (by its pid) and removes the directory. Never throws. */
  stop(): Promise<void>;
}

export async function startPrivatePostgrey(options: { port: number; delaySeconds: number }): Promise<PrivatePostgrey> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-postgrey-'));
  await chmod(dir, 0o755);
  const dbDir = path.join(dir, 'db');
  await run('mkdir', ['-m', '0700', dbDir]);
  const { uid, gid } = await postgreyIds();
  await chown(dbDir, uid, gid);
  const empty = path.join(dir, 'whitelist-empty');
  await writeFile(empty, '');

  const args = [
    `--inet=127.0.0.1:${options.port}`,
    `--delay=${options.delaySeconds}`,
    `--dbdir=${dbDir}`,
    '--auto-whitelist-clients=0',
    `--whitelist-clients=${empty}`,
    `--whitelist-recipients=${empty}`,
    '--max-age=1',
    '--hostname=policy.test',
  ];
  const child: ChildProcess = spawn(POSTGREY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));

  const stop = async (): Promise<void> => {
    if (!exited && child.pid !== undefined) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (!exited) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  // Ready once the port answers (postgrey binds before dropping privileges).
  const deadline = Date.now() + 15_000;
  while (!(await answers(options.port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`postgrey ${args.join(' ')} did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    port: options.port,
    policyService: `inet:127.0.0.1:${options.port}`,
    output: () => text,
    decisions: () => parseDecisions(text),
    stop,
  };
}

/** "action=greylist, reason=new, client_name=..., client_address=..., sender=..., recipient=..." lines. */
export function parseDecisions(text: string): PostgreyDecision[] {
  const out: PostgreyDecision[] = [];
  for (const raw of text.split('\n')) {
    // Lines for a request that carries a Postfix queue id start with "QUEUEID: ".
    const start = /(?:^|: )action=/.exec(raw);
    if (!start) continue;
    const line = raw.slice(start.index).replace(/^: /, '');
    const fields = new Map<string, string>();
    for (const part of line.split(', ')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    out.push({
      action: fields.get('action') ?? '',
      reason: fields.get('reason') ?? '',
      clientAddress: fields.get('client_address') ?? '',
      sender: fields.get('sender') ?? '',
      recipient: fields.get('recipient') ?? '',
    });
  }
  return out;
}

async function postgreyIds(): Promise<{ uid: number; gid: number }> {
  const { stdout: u } = await run('id', ['-u', 'postgrey']);
  const { stdout: g } = await run('id', ['-g', 'postgrey']);
  return { uid: Number(u.trim()), gid: Number(g.trim()) };
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Real SOCKS5 servers from Debian's packages for tests, as private instances on loopback (or inside a
 * network namespace of the test's own): no system service, no config in /etc, a free port each.
 *  - microsocks (package microsocks): `-i` listen address, `-p` port, `-u`/`-P` user and password
 *    (RFC 1929), `-b` the address its outgoing connections start from (what the MX sees).
 *  - Dante (package dante-server, /usr/sbin/danted): a config file in a temp directory; it starts as
 *    root and serves as `nobody` (user.unprivileged); `socks block` rules make it refuse ports with
 *    SOCKS5 reply 2 ("not allowed by ruleset").
 * `microsocksAvailability()` / `danteAvailability()` say why an instance cannot be started, so tests
 * skip with the reason (CI installs both: .ci/run).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/app/redis-connection.ts';

export type Availability = { ok: true } | { ok: false; reason: string };

const MICROSOCKS = '/usr/bin/microsocks';
const DANTED = '/usr/sbin/danted';

function executable(file: string, install: string): Availability {
  try {
    accessSync(file, constants.X_OK);
    return { ok: true };
  } catch {
    return { ok: false, reason: `${file} is missing: ${install} (.ci/run installs it)` };
  }
}

export function microsocksAvailability(): Availability {
  return executable(MICROSOCKS, 'apt-get install microsocks');
}

export function danteAvailability(): Availability {
  const found = executable(DANTED, 'apt-get install dante-server');
  if (!found.ok) return found;
  if (process.getuid?.() !== 0) return { ok: false, reason: 'danted starts as root (user.privileged) and serves as nobody' };
  return { ok: true };
}

export interface SocksPeer {
  readonly host: string;
  readonly port: number;
  /** socks5://[user:password@]host:port (percent-encoded credentials when it has them). */
  readonly url: string;
  /** What the server printed (stderr, Dante's log). */
  output(): Promise<string>;
  /** Stops the server; resolves once its process is gone. Never throws. */
  stop(): Promise<void>;
}

/** Polls until host:port accepts a TCP connection (bounded), or the process died. */
async function waitListening(host: string, port: number, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the SOCKS server exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the SOCKS server on ${host}:${port} did not start listening: ${output()}`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  // A safety net for a test process that ends without its afterAll (a crash, a timeout): the server
  // must not outlive it, holding its port and address.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  return () => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 3_000);
    return exited.finally(() => clearTimeout(forced));
  };
}

function urlOf(host: string, port: number, user?: string, password?: string): string {
  const auth = user !== undefined ? `${encodeURIComponent(user)}:${encodeURIComponent(password ?? '')}@` : '';
  return `socks5://${auth}${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export interface MicrosocksOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Default: a free port on host (inside a namespace pass one). */
  port?: number;
  user?: string;
  password?: string;
  /** Outgoing connections start from this address (the address the MX sees). */
  bindAddress?: string;
  /** Run inside this network namespace (`ip netns exec`); host must then be reachable from here. */
  netns?: string;
}

export async function startMicrosocks(options: MicrosocksOptions = {}): Promise<SocksPeer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const args = ['-i', host, '-p', String(port)];
  if (options.user !== undefined) args.push('-u', options.user, '-P', options.password ?? '');
  if (options.bindAddress !== undefined) args.push('-b', options.bindAddress);
  const child = options.netns ? spawn('ip', ['netns', 'exec', options.netns, MICROSOCKS, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(MICROSOCKS, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 100_000) stderr += chunk.toString();
  });
  const stop = stopper(child);
  try {
    await waitListening(host, port, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, port, url: urlOf(host, port, options.user, options.password), output: async () => stderr, stop };
}

export interface DanteOptions {
  host?: string;
  port?: number;
  /** Destination ports its rules refuse (SOCKS5 reply 2). */
  blockPorts?: number[];
}

export async function startDante(options: DanteOptions = {}): Promise<SocksPeer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-dante-'));
  const log = path.join(dir, 'danted.log');
  const conf = [
    `logoutput: ${log}`,
    `internal: ${host} port = ${port}`,
    `external: ${host}`,
    'clientmethod: none',
    'socksmethod: none',
    'user.privileged: root',
    'user.unprivileged: nobody',
    'client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }',
    ...(options.blockPorts ?? []).map((p) => `socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 port = ${p} log: connect error }`),
    'socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }',
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'danted.conf'), conf);
  // -N 1: one server process; without -D it stays in the foreground, so the child is Dante itself.
  const child = spawn(DANTED, ['-f', path.join(dir, 'danted.conf'), '-p', path.join(dir, 'danted.pid'), '-N', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 100_000) stderr += chunk.toString();
  });
  const output = async (): Promise<string> => `${stderr}${await readFile(log, 'utf8').catch(() => '')}`;
  const stopProcess = stopper(child);
  const stop = async (): Promise<void> => {
    await stopProcess();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    await waitListening(host, port, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, port, url: urlOf(host, port), output, stop };
}

/** Whether `ip netns` works here (root, iproute2). */
export function netnsAvailability(): Availability {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'ip netns needs root' };
  const probe = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (probe.error) return { ok: false, reason: `ip (iproute2) is not available: ${probe.error.message}` };
  if (probe.status !== 0) return { ok: false, reason: `ip netns does not work here: ${probe.stderr.trim()}` };
  return { ok: true };
}

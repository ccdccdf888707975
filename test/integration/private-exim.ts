/**
 * A private Exim (Debian's exim4-daemon-light binary) for integration tests: `exim -C FILE -bdf`
 * as a foreground child on one loopback address and port, spool and logs in a temp directory,
 * no queue runner, never any delivery (the DATA ACL denies; the engine never sends DATA anyway).
 *
 * Debian's Exim and Postfix packages conflict (both provide mail-transport-agent): installing
 * exim4-daemon-light REMOVES postfix. So the binary is used from wherever it is, in this order:
 *   - $HYGIENE_TEST_EXIM (a path to an exim binary),
 *   - /opt/exim4-light/usr/sbin/exim4 (the package unpacked, not installed: see .ci/run),
 *   - /usr/sbin/exim4 (Exim is the system MTA).
 * Exim runs as `nobody`/`nogroup` (exim_user/exim_group), so no Debian-exim user is needed.
 *
 * Configuration: `exim.test` has the mailboxes listed in a file (accept router, local_parts =
 * lsearch); everything else in that domain fails recipient verification with Exim's stock
 * "550 Unrouteable address". `alias.test` is a redirect router whose unknown local parts get
 * `:fail: No such user here`. Other domains: "550 relay not permitted". STARTTLS is offered with
 * the test certificate; PIPELINING is advertised (Exim's default), and smtp_enforce_sync is on
 * (Exim's default), so pipelining outside what RFC 2920 allows is logged as a synchronization error.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const CANDIDATES = [process.env.HYGIENE_TEST_EXIM, '/opt/exim4-light/usr/sbin/exim4', '/usr/sbin/exim4'].filter((p): p is string => !!p);

export type EximAvailability = { ok: true; binary: string; version: string } | { ok: false; reason: string };

export async function eximAvailability(): Promise<EximAvailability> {
  let binary: string | undefined;
  for (const candidate of CANDIDATES) {
    try {
      await access(candidate);
      binary = candidate;
      break;
    } catch {
      // next
    }
  }
  if (!binary) {
    return {
      ok: false,
      reason: `no exim binary (${CANDIDATES.join(', ')}): unpack Debian's exim4-daemon-light into /opt/exim4-light (apt-get download + dpkg-deb -x; installing it would remove Postfix)`,
    };
  }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'the private Exim daemon starts as root and runs as nobody' };
  try {
    // -bV without a usable default config still prints the version line first, then fails.
    const { stdout } = await run(binary, ['-C', '/dev/null', '-bV']).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const version = /Exim version (\S+)/.exec(stdout)?.[1];
    if (!version) return { ok: false, reason: `${binary} -bV printed no version` };
    return { ok: true, binary, version };
  } catch (err) {
    return { ok: false, reason: `${binary} -bV failed: ${(err as Error).message}` };
  }
}

export interface PrivateEximOptions {
  binary: string;
  hostname: string;
  ip: string;
  port: number;
  /** Local parts that exist in exim.test. */
  users: string[];
  /** alias.test local part → exim.test local part. */
  aliases: Record<string, string>;
  tlsCertFile: string;
  tlsKeyFile: string;
}

export interface PrivateExim {
  readonly dir: string;
  mainlog(): Promise<string>;
  rejectlog(): Promise<string>;
  paniclog(): Promise<string>;
  /** Stops the daemon (its pid) and removes the directory. Never throws. */
  stop(): Promise<void>;
}

export async function startPrivateExim(options: PrivateEximOptions): Promise<PrivateExim> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `hygiene-exim-${options.hostname}-`));
  await chmod(dir, 0o755);
  const { uid, gid } = await ids('nobody', 'nogroup');
  const spool = path.join(dir, 'spool');
  const logDir = path.join(dir, 'log');
  for (const d of [spool, logDir]) {
    await mkdir(d, { mode: 0o750 });
    await chown(d, uid, gid);
  }
  const users = path.join(dir, 'users');
  const aliases = path.join(dir, 'aliases');
  await writeFile(users, options.users.map((u) => `${u}\n`).join(''));
  await writeFile(aliases, Object.entries(options.aliases).map(([a, u]) => `${a}: ${u}\n`).join(''));
  // Exim reads the TLS key as its own user.
  const cert = path.join(dir, 'tls.cert.pem');
  const key = path.join(dir, 'tls.key.pem');
  await copyFile(options.tlsCertFile, cert);
  await copyFile(options.tlsKeyFile, key);
  await chown(key, uid, gid);
  await chmod(key, 0o600);

  const config = `
keep_environment =
primary_hostname = ${options.hostname}
exim_user = nobody
exim_group = nogroup
never_users = root
spool_directory = ${spool}
log_file_path = ${logDir}/%slog
pid_file_path = ${dir}/exim.pid
local_interfaces = ${options.ip}
daemon_smtp_ports = ${options.port}
domainlist local_domains = exim.test : alias.test
# No ident or reverse-DNS lookups of the (loopback) client.
rfc1413_query_timeout = 0s
host_lookup =
tls_certificate = ${cert}
tls_privatekey = ${key}
log_selector = +smtp_connection +smtp_no_mail +smtp_protocol_error +smtp_syntax_error +incoming_port +pipelining +tls_cipher
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data

begin acl
acl_check_rcpt:
  deny    message = relay not permitted
          !domains = +local_domains
  require verify = recipient
  accept
acl_check_data:
  deny    message = no DATA in this test

begin routers
users:
  driver = accept
  domains = exim.test
  local_parts = lsearch;${users}
  transport = devnull
aliases:
  driver = redirect
  domains = alias.test
  allow_fail
  data = \${lookup{$local_part}lsearch{${aliases}}{$value@exim.test}{:fail: No such user here}}

begin transports
devnull:
  driver = appendfile
  file = /dev/null
`;
  const configFile = path.join(dir, 'exim.conf');
  await writeFile(configFile, config, { mode: 0o644 });

  const child: ChildProcess = spawn(options.binary, ['-C', configFile, '-bdf'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  const read = (name: string) => () => readFile(path.join(logDir, name), 'utf8').catch(() => '');

  const stop = async (): Promise<void> => {
    if (!exited && child.pid !== undefined) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (!exited) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  const deadline = Date.now() + 15_000;
  // Ready once the daemon logged that it listens (no probe connection muddies the log).
  while (!/daemon started: .* listening for SMTP/.test(await read('mainlog')())) {
    if (exited || Date.now() > deadline) {
      const log = (await read('mainlog')()) + (await read('paniclog')());
      await stop();
      throw new Error(`exim -C ${configFile} -bdf did not start:\n${output}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { dir, mainlog: read('mainlog'), rejectlog: read('rejectlog'), paniclog: read('paniclog'), stop };
}

async function ids(user: string, group: string): Promise<{ uid: number; gid: number }> {
  const { stdout: u } = await run('id', ['-u', user]);
  const { stdout: g } = await run('getent', ['group', group]);
  return { uid: Number(u.trim()), gid: Number(g.split(':')[2]) };
}

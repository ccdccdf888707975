/**
 * A private Postfix instance for integration tests: its own config_directory, queue_directory,
 * data_directory and maillog_file under one temp directory, smtpd listening on one loopback
 * address and port, nothing chrooted, no delivery (virtual_transport = discard; the engine never
 * sends DATA anyway). The system's Postfix (if any) is left alone: no /etc/postfix/main.cf is
 * read or written, and the Debian master.cf is only copied.
 *
 * Needs the `postfix` package (its binaries, the `postfix` user and `postdrop` group) and root,
 * because `postfix start` runs master as root and smtpd drops to the `postfix` user.
 * `postfixAvailability()` says why an instance cannot be started, so tests can skip with a reason.
 */
import { execFile } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const POSTFIX = '/usr/sbin/postfix';
const POSTCONF = '/usr/sbin/postconf';
const SYSTEM_MASTER_CF = '/etc/postfix/master.cf';

export type PostfixAvailability = { ok: true; version: string } | { ok: false; reason: string };

/** Whether a private Postfix can be started here, and its version (`mail_version`). */
export async function postfixAvailability(): Promise<PostfixAvailability> {
  for (const file of [POSTFIX, POSTCONF, SYSTEM_MASTER_CF]) {
    try {
      await access(file);
    } catch {
      return { ok: false, reason: `${file} is missing: install Postfix (apt-get install postfix, debconf main_mailer_type "No configuration")` };
    }
  }
  if (process.getuid?.() !== 0) return { ok: false, reason: '`postfix start` needs root (master runs as root, smtpd drops to the postfix user)' };
  try {
    // -d: compiled-in defaults, so this works without /etc/postfix/main.cf ("No configuration").
    const { stdout } = await run(POSTCONF, ['-d', '-h', 'mail_version'], { env: { ...process.env, MAIL_CONFIG: path.dirname(SYSTEM_MASTER_CF) } });
    return { ok: true, version: stdout.trim() };
  } catch (err) {
    return { ok: false, reason: `postconf -d mail_version failed: ${(err as Error).message}` };
  }
}

export interface PrivatePostfixOptions {
  /** Label for the temp directory and myhostname. */
  hostname: string;
  /** Loopback address smtpd listens on (any 127.x works on Linux without configuring it). */
  ip: string;
  port: number;
  /** virtual_mailbox_domains. */
  domains: string[];
  /** Full addresses that exist (virtual_mailbox_maps). */
  mailboxes: string[];
  /** Extra main.cf lines (name → value), applied last. */
  mainCf?: Record<string, string>;
}

export interface PrivatePostfix {
  readonly hostname: string;
  readonly ip: string;
  readonly port: number;
  readonly dir: string;
  /** The instance's maillog as written so far. */
  maillog(): Promise<string>;
  /** `postfix stop`, then remove the directory. Never throws. */
  stop(): Promise<void>;
}

export async function startPrivatePostfix(options: PrivatePostfixOptions): Promise<PrivatePostfix> {
  // /tmp is fine: the directory is made world-traversable so smtpd (user postfix) can reach
  // queue_directory; data_directory is left for `postfix start` to create with postfix ownership.
  const dir = await mkdtemp(path.join(os.tmpdir(), `hygiene-postfix-${options.hostname}-`));
  await chmod(dir, 0o755);
  const configDir = path.join(dir, 'etc');
  const maillogFile = path.join(dir, 'maillog');
  await mkdir(configDir, { mode: 0o755 });
  await mkdir(path.join(dir, 'queue'), { mode: 0o755 });
  await writeFile(path.join(configDir, 'vmailbox'), options.mailboxes.map((m) => `${m} ok\n`).join(''));

  const main: Record<string, string> = {
    compatibility_level: '3.6',
    config_directory: configDir,
    queue_directory: path.join(dir, 'queue'),
    data_directory: path.join(dir, 'data'),
    maillog_file: maillogFile,
    maillog_file_prefixes: dir,
    myhostname: options.hostname,
    mydomain: options.hostname.replace(/^[^.]+\./, ''),
    myorigin: '$mydomain',
    mydestination: '',
    // master.cf names the listener's address; inet_interfaces must still be a local interface.
    inet_interfaces: 'loopback-only',
    inet_protocols: 'ipv4',
    // Nobody is trusted to relay: not even loopback clients (the tests connect from 127.0.0.1).
    mynetworks: '192.0.2.0/32',
    virtual_mailbox_domains: options.domains.join(' '),
    virtual_mailbox_maps: `texthash:${path.join(configDir, 'vmailbox')}`,
    virtual_transport: 'discard:never delivered',
    smtpd_relay_restrictions: 'reject_unauth_destination',
    smtpd_recipient_restrictions: 'reject_unauth_destination',
    // No DNS from smtpd: no client name lookup, no sender-domain lookups.
    smtpd_peername_lookup: 'no',
    alias_maps: '',
    alias_database: '',
    biff: 'no',
    ...options.mainCf,
  };
  await writeFile(path.join(configDir, 'main.cf'), Object.entries(main).map(([k, v]) => `${k} = ${v}\n`).join(''));

  // Debian's master.cf, with the public smtp listener moved to ip:port and nothing chrooted
  // (a chroot would need copies of /etc files inside the temp queue directory).
  const masterCf = await readFile(SYSTEM_MASTER_CF, 'utf8');
  const listener = /^smtp(\s+)inet(\s+\S+){5}\s+smtpd\s*$/m;
  if (!listener.test(masterCf)) throw new Error(`${SYSTEM_MASTER_CF} has no "smtp inet ... smtpd" line to move`);
  if (!/^postlog\s+unix-dgram\s/m.test(masterCf)) throw new Error(`${SYSTEM_MASTER_CF} has no postlog service (maillog_file needs Postfix >= 3.4)`);
  await writeFile(path.join(configDir, 'master.cf'), masterCf.replace(listener, `${options.ip}:${options.port} inet n - n - - smtpd`));
  await run(POSTCONF, ['-c', configDir, '-F', '*/*/chroot = n']);

  try {
    await postfix(configDir, ['start']);
  } catch (err) {
    const log = await readFile(maillogFile, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`postfix -c ${configDir} start failed: ${(err as Error).message}\n${log}`);
  }

  return {
    hostname: options.hostname,
    ip: options.ip,
    port: options.port,
    dir,
    maillog: () => readFile(maillogFile, 'utf8').catch(() => ''),
    stop: async () => {
      await postfix(configDir, ['stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** `postfix -c DIR ...`; its own messages go to maillog_file (or syslog before main.cf is read). */
async function postfix(configDir: string, args: string[]): Promise<void> {
  await run(POSTFIX, ['-c', configDir, ...args], { timeout: 30_000 });
}

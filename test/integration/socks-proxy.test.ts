/**
 * Outbound SMTP through a real SOCKS5 proxy from Debian's packages (issue 15): microsocks (with
 * user/password, and -b to choose the address the MX sees) and Dante (rules that refuse a port),
 * private instances, in front of the simulated mail world.
 *
 * - Port 25 blocked, the proxy the only way out: the MX hosts live in a network namespace of the
 *   test's own (test/peers/remote-network.ts) with the proxy on its end of a veth link. From here the
 *   MX addresses published in DNS lead to blackholes (connects time out, as behind a firewall that
 *   drops port 25). Direct, the run stops with OUTBOUND_SMTP_BLOCKED naming HYGIENE_SMTP_PROXY;
 *   through the proxy the same list gets every verdict right, and the proxy's log shows it made the
 *   connections; `hygiene doctor` through it shows the address the MX saw (the proxy's, 127.0.0.77).
 * - Proxy authentication: right credentials (with ",", "#", "@" percent-encoded) give the right
 *   verdicts; wrong ones stop the run with OUTBOUND_PROXY_FAILED naming HYGIENE_SMTP_PROXY, without
 *   the password, nothing cached, no output files.
 * - A dead proxy: `hygiene verify` (the real CLI) exits 1 with one line naming HYGIENE_SMTP_PROXY,
 *   nothing cached, no rejected file; a proxy that never accepts TCP stops within the connect timeout.
 * - STARTTLS through the proxy with --require-tls: certificate verified against the MX name.
 * - A proxy whose rules refuse the SMTP port (Dante, SOCKS5 reply 2) for every MX: OUTBOUND_PROXY_FAILED.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/app/redis-connection.ts';
import { runDoctor } from '../../src/cli/doctor-command.ts';
import { formatProbe, runProbe } from '../../src/cli/probe-command.ts';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { runVerify } from '../../src/cli/verify-command.ts';
import { isHygieneError, type HygieneError } from '../../src/errors.ts';
import { ListStore } from '../../src/queue/list-store.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { startBlackhole, type Blackhole } from '../peers/blackhole.ts';
import { startRemoteNetwork, type RemoteNetwork } from '../peers/remote-network.ts';
import { danteAvailability, microsocksAvailability, netnsAvailability, startDante, startMicrosocks, type SocksPeer } from '../peers/socks-proxy.ts';
import { deletePrefix, readOutput, REDIS_URL, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';
import { quietly } from '../helpers/quietly.ts';
import { keysOf as keysMatching } from '../helpers/keys-of.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TLS_DIR = path.join(ROOT, 'test/fixtures/tls');
const microsocks = microsocksAvailability();
const dante = danteAvailability();
const netns = netnsAvailability();

const DOMAINS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'].map((d) => `${d}.test`);

/** One MX per domain at base.(10+i); alice exists everywhere; EHLO shows the client's address like Gmail's. */
function worldSpec(base: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const mxHosts: Record<string, unknown> = {};
  const domains: Record<string, unknown> = {};
  DOMAINS.forEach((d, i) => {
    mxHosts[`mx.${d}`] = { ip: `${base}.${10 + i}`, behaviour: { replies: { ehlo: '{host} at your service, [{client}]' }, ...extra } };
    domains[d] = { mx: [{ host: `mx.${d}`, preference: 10 }], mailboxes: ['alice'] };
  });
  return { mxHosts, domains };
}

async function contactsFile(dir: string): Promise<string> {
  const input = path.join(dir, 'contacts.csv');
  await writeFile(input, `email,name\n${DOMAINS.flatMap((d) => [`alice@${d},Alice`, `nobody@${d},Nobody`]).join('\n')}\n`);
  return input;
}

/** Keys matching a pattern, on a connection of its own. */
async function keysOf(pattern: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL);
  try {
    return await keysMatching(redis, pattern);
  } finally {
    redis.disconnect();
  }
}

async function listState(prefix: string): Promise<{ state?: string; error?: string; errorCode?: string }> {
  const redis = new Redis(REDIS_URL);
  try {
    const [id] = await redis.zrange(`${prefix}:lists`, '0', '-1');
    const list = await new ListStore(redis, prefix).get(id!);
    return { state: list?.state, error: list?.error, errorCode: list?.errorCode };
  } finally {
    redis.disconnect();
  }
}

/** Every alice deliverable, every nobody undeliverable/mailbox_not_found. */
async function expectRightVerdicts(dir: string): Promise<void> {
  const cleaned = await readOutput(path.join(dir, 'contacts.cleaned.csv'));
  const rejected = await readOutput(path.join(dir, 'contacts.rejected.csv'));
  expect(cleaned.map((r) => `${r.email} ${r.hygiene_status}/${r.hygiene_reason}`).sort()).toEqual(DOMAINS.map((d) => `alice@${d} deliverable/accepted`).sort());
  expect(rejected.map((r) => `${r.email} ${r.hygiene_status}/${r.hygiene_reason}`).sort()).toEqual(DOMAINS.map((d) => `nobody@${d} undeliverable/mailbox_not_found`).sort());
}

describe.skipIf(!microsocks.ok || !netns.ok)('port 25 blocked here, a SOCKS5 proxy on another network is the only way out (microsocks in a network namespace)', () => {
  const BASE = '127.0.9';
  let remote: RemoteNetwork;
  let proxy: SocksPeer;
  let dns: SimDnsServer;
  let smtpPort: number;
  let worldOutput = '';
  const blackholes: Blackhole[] = [];
  const prefixes: string[] = [];

  beforeAll(async () => {
    const spec = worldSpec(BASE);
    remote = await startRemoteNetwork();
    // A port that is free here too, for the blackholes that stand for the blocked direct path.
    smtpPort = await freePort(`${BASE}.10`);
    const dir = await tempDir('remote-world');
    const specFile = path.join(dir, 'world.json');
    await writeFile(specFile, JSON.stringify(spec));
    const world = remote.spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/peers/world-process.ts'), specFile, String(smtpPort)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      world.once('exit', (code) => reject(new Error(`the world process exited (${code})`)));
      world.stdout?.on('data', (chunk: Buffer) => {
        worldOutput += chunk.toString();
        if (worldOutput.includes('"smtpPort"')) resolve();
      });
    });
    // Inside the namespace the proxy's connections start from 127.0.0.77: the address the MX sees.
    proxy = await startMicrosocks({ host: remote.address, port: 1080, netns: remote.name, bindAddress: '127.0.0.77' });
    dns = await startSimDnsServer(parseWorldSpec(spec));
    for (let i = 0; i < DOMAINS.length; i++) blackholes.push(await startBlackhole(`${BASE}.${10 + i}`, smtpPort));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(blackholes.map((hole) => hole.stop()));
    await proxy?.stop();
    await remote?.stop();
    await dns?.stop();
    for (const p of prefixes) await deletePrefix(p);
  });

  const config = (prefix: string, extra: Record<string, string> = {}) =>
    worldConfig({ dnsServers: [dns.address], smtpPort }, prefix, { HYGIENE_CONNECT_TIMEOUT_MS: '400', HYGIENE_BACKOFF_MS: '60000', LOG_LEVEL: 'silent', ...extra });

  it('direct: every MX times out, the run stops with OUTBOUND_SMTP_BLOCKED naming HYGIENE_SMTP_PROXY as the way out; nothing cached', async () => {
    const prefix = uniquePrefix('proxy-direct');
    prefixes.push(prefix);
    const dir = await tempDir('proxy-direct');
    const result = await quietly(async () => runVerify(config(prefix), { file: await contactsFile(dir), outDir: dir, localWorkers: true, json: true, syntaxOnly: false }));
    expect(isHygieneError(result.error, 'OUTBOUND_SMTP_BLOCKED'), String(result.error)).toBe(true);
    expect((result.error as Error).message).toContain('HYGIENE_SMTP_PROXY=socks5://');
    expect(await keysOf(`${prefix}:verdict:*`)).toEqual([]);
    expect((await readdir(dir)).filter((f) => f !== 'contacts.csv')).toEqual([]);
  });

  it('through the proxy: every verdict right, and the proxy made every connection', async () => {
    const prefix = uniquePrefix('proxy-only-way');
    prefixes.push(prefix);
    const dir = await tempDir('proxy-only-way');
    const result = await quietly(async () =>
      runVerify(config(prefix, { HYGIENE_SMTP_PROXY: `socks5://${proxy.host}:${proxy.port}` }), { file: await contactsFile(dir), outDir: dir, localWorkers: true, json: true, syntaxOnly: false }),
    );
    expect(result.error).toBeUndefined();
    expect(result.value).toBe(0);
    await expectRightVerdicts(dir);
    // microsocks logs "client[n] <client address>: connected to <ip>:<port>" for each CONNECT it made.
    const log = await proxy.output();
    for (let i = 0; i < DOMAINS.length; i++) expect(log).toContain(`: connected to ${BASE}.${10 + i}:${smtpPort}`);
  });

  it('hygiene doctor through the proxy: the proxy answers, port 25 is reached through it, and the MX saw the proxy\'s address', async () => {
    const report = await runDoctor(config(uniquePrefix('doctor'), { HYGIENE_SMTP_PROXY: `socks5://${proxy.host}:${proxy.port}#id=remote-proxy` }), { domain: 'alpha.test' });
    const proxyCheck = report.checks.find((c) => c.name === 'proxy');
    const port25 = report.checks.find((c) => c.name === 'port25');
    expect(proxyCheck).toMatchObject({ status: 'ok', identity: 'remote-proxy' });
    expect(proxyCheck?.detail).toContain(`socks5://${proxy.host}:${proxy.port} answers and needs no credentials`);
    expect(port25).toMatchObject({ status: 'ok', identity: 'remote-proxy', seenAddress: '127.0.0.77' });
    expect(port25?.detail).toContain(`through socks5://${proxy.host}:${proxy.port}`);
    expect(port25?.detail).toContain('the server saw us at 127.0.0.77');
  });

  it('hygiene doctor direct: port 25 times out and the fix names HYGIENE_SMTP_PROXY', async () => {
    const report = await runDoctor(config(uniquePrefix('doctor')), { domain: 'alpha.test' });
    const port25 = report.checks.find((c) => c.name === 'port25');
    expect(port25?.status).toBe('fail');
    expect(port25?.fix).toContain('HYGIENE_SMTP_PROXY=socks5://');
    expect(report.ok).toBe(false);
  });
});

describe.skipIf(!microsocks.ok)('SOCKS5 proxies on loopback (microsocks)', () => {
  let world: MailWorld;
  const prefixes: string[] = [];
  const peers: SocksPeer[] = [];
  beforeAll(async () => {
    world = await startMailWorld(parseWorldSpec(worldSpec('127.0.10')));
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    await world?.stop();
    for (const p of prefixes) await deletePrefix(p);
  });

  const verify = async (label: string, env: Record<string, string>) => {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    const dir = await tempDir(label);
    const result = await quietly(async () => runVerify(worldConfig(world, prefix, { LOG_LEVEL: 'silent', ...env }), { file: await contactsFile(dir), outDir: dir, localWorkers: true, json: true, syntaxOnly: false }));
    return { prefix, dir, ...result };
  };

  it('with proxy authentication: the right credentials (percent-encoded ",", "#", "@") give every verdict; wrong ones stop the run naming HYGIENE_SMTP_PROXY, nothing cached', async () => {
    const password = 'pa,ss#w@rd';
    const proxy = await startMicrosocks({ user: 'verifier', password });
    peers.push(proxy);
    const right = await verify('proxy-auth', { HYGIENE_SMTP_PROXY: proxy.url });
    expect(right.error).toBeUndefined();
    await expectRightVerdicts(right.dir);

    const wrong = await verify('proxy-auth-wrong', { HYGIENE_SMTP_PROXY: `socks5://verifier:not-${encodeURIComponent(password)}@${proxy.host}:${proxy.port}` });
    expect(isHygieneError(wrong.error, 'OUTBOUND_PROXY_FAILED'), String(wrong.error)).toBe(true);
    const message = (wrong.error as HygieneError).message;
    expect(message).toContain(`socks5://***@${proxy.host}:${proxy.port} (HYGIENE_SMTP_PROXY)`);
    expect(message).toContain('refused our user name and password');
    expect(message).not.toContain('not-pa');
    expect(JSON.stringify((wrong.error as HygieneError).context)).not.toContain('not-pa');
    expect(await listState(wrong.prefix)).toMatchObject({ state: 'failed', errorCode: 'OUTBOUND_PROXY_FAILED' });
    expect(await keysOf(`${wrong.prefix}:verdict:*`)).toEqual([]);
    expect((await readdir(wrong.dir)).filter((f) => f !== 'contacts.csv')).toEqual([]);
  });

  it('hygiene probe through the proxy: the transcript says so (never the password) and the verdict is the server\'s', async () => {
    const proxy = await startMicrosocks({ user: 'prober', password: 'probe-secret', bindAddress: '127.0.0.79' });
    peers.push(proxy);
    const prefix = uniquePrefix('proxy-probe');
    prefixes.push(prefix);
    const result = await runProbe(worldConfig(world, prefix, { LOG_LEVEL: 'silent', HYGIENE_SMTP_PROXY: proxy.url }), 'nobody@bravo.test');
    expect(result.verdict).toMatchObject({ status: 'undeliverable', reason: 'mailbox_not_found' });
    const text = formatProbe(result);
    expect(text).toContain(`connected to mx.bravo.test [127.0.10.11]:${world.smtpPort} through socks5://***@${proxy.host}:${proxy.port}`);
    expect(text).toContain('mx.bravo.test at your service, [127.0.0.79]');
    expect(text).not.toContain('probe-secret');
  });

  it('a proxy that never accepts the TCP connection: stopped within the connect timeout, nothing cached', async () => {
    const port = await freePort('127.0.10.99');
    const hole = await startBlackhole('127.0.10.99', port);
    try {
      const started = Date.now();
      const result = await verify('proxy-silent', { HYGIENE_SMTP_PROXY: `socks5://127.0.10.99:${port}`, HYGIENE_CONNECT_TIMEOUT_MS: '500' });
      expect(isHygieneError(result.error, 'OUTBOUND_PROXY_FAILED'), String(result.error)).toBe(true);
      expect((result.error as Error).message).toContain('did not accept a TCP connection within 500 ms');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await keysOf(`${result.prefix}:verdict:*`)).toEqual([]);
    } finally {
      await hole.stop();
    }
  });

  it('a dead proxy: hygiene verify exits 1 with one line naming HYGIENE_SMTP_PROXY, nothing cached, nothing in rejected', async () => {
    const prefix = uniquePrefix('proxy-dead');
    prefixes.push(prefix);
    const dir = await tempDir('proxy-dead');
    const input = await contactsFile(dir);
    const deadPort = await freePort('127.0.0.1');
    const env = {
      ...process.env,
      ...demoEnvironment(world.dnsServers, world.smtpPort),
      REDIS_URL,
      HYGIENE_PREFIX: prefix,
      HYGIENE_SMTP_PROXY: `socks5://127.0.0.1:${deadPort}`,
    };
    const child = spawn(process.execPath, [path.join(ROOT, 'src/cli/bin.mjs'), 'verify', input, '--out', dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n').filter((l) => l.includes('OUTBOUND_PROXY_FAILED') || l.includes('HYGIENE_SMTP_PROXY'));
    expect(lines.length, stderr).toBeGreaterThan(0);
    expect(stderr).toContain(`the SMTP proxy socks5://127.0.0.1:${deadPort} (HYGIENE_SMTP_PROXY) cannot be used`);
    expect(stderr).toContain('connection refused');
    expect(await keysOf(`${prefix}:verdict:*`)).toEqual([]);
    expect((await readdir(dir)).filter((f) => f !== 'contacts.csv')).toEqual([]);
    expect(await listState(prefix)).toMatchObject({ state: 'failed', errorCode: 'OUTBOUND_PROXY_FAILED' });
  }, 60_000);
});

describe.skipIf(!microsocks.ok)('STARTTLS through the proxy (microsocks) with --require-tls', () => {
  it('verifies the MX certificate by its name over the proxied socket and gets every verdict', async () => {
    const world = await startMailWorld(
      parseWorldSpec({
        mxHosts: { 'mx.tls.test': { ip: '127.0.11.10', behaviour: { starttls: true, replies: { ehlo: '{host} at your service, [{client}]' } } } },
        domains: { 'tls.test': { mx: [{ host: 'mx.tls.test', preference: 10 }], mailboxes: ['alice'] } },
      }),
      { tls: { cert: await readFile(path.join(TLS_DIR, 'mx.tls.test.cert.pem')), key: await readFile(path.join(TLS_DIR, 'mx.tls.test.key.pem')) } },
    );
    const proxy = await startMicrosocks({ bindAddress: '127.0.0.78' });
    const prefix = uniquePrefix('proxy-tls');
    const transcript: string[] = [];
    const runtime = await startRuntime(
      worldConfig(world, prefix, { HYGIENE_SMTP_PROXY: proxy.url, HYGIENE_TLS: 'required', HYGIENE_TLS_CA_FILE: path.join(TLS_DIR, 'test-ca.cert.pem'), HYGIENE_CATCH_ALL_PROBE: 'false' }),
      { poolEvents: { onTranscript: (_mx, entry) => transcript.push(`${entry.direction} ${entry.text}`) } },
    );
    try {
      const dir = await tempDir('proxy-tls');
      const input = path.join(dir, 'tls.csv');
      await writeFile(input, 'email\nalice@tls.test\nnobody@tls.test\n');
      const { runList } = await import('../helpers/run-list.ts');
      const outputs = await runList(runtime, input, dir);
      expect(outputs.byEmail.get('alice@tls.test')?.hygiene_status).toBe('deliverable');
      expect(outputs.byEmail.get('nobody@tls.test')?.hygiene_reason).toBe('mailbox_not_found');
      expect(world.stats()['mx.tls.test']?.tlsHandshakes).toBeGreaterThan(0);
      expect(transcript.some((l) => l.startsWith('info connected to mx.tls.test [127.0.11.10]') && l.includes(`through ${proxy.url}`))).toBe(true);
      expect(transcript.some((l) => l.startsWith('info TLS established'))).toBe(true);
      // The EHLO after STARTTLS (inside TLS) shows the address the MX saw: the proxy's -b address.
      const afterTls = transcript.slice(transcript.findIndex((l) => l.startsWith('info TLS established')));
      expect(afterTls.some((l) => l.startsWith('server 250-mx.tls.test at your service, [127.0.0.78]'))).toBe(true);
    } finally {
      await runtime.close();
      await proxy.stop();
      await world.stop();
      await deletePrefix(prefix);
    }
  });
});

describe.skipIf(!dante.ok)('a proxy whose rules refuse the SMTP port (Dante)', () => {
  it('every MX refused by the proxy (SOCKS5 reply 2): OUTBOUND_PROXY_FAILED naming the proxy, nothing cached', async () => {
    const world = await startMailWorld(parseWorldSpec(worldSpec('127.0.12')));
    const proxy = await startDante({ blockPorts: [world.smtpPort] });
    const prefix = uniquePrefix('proxy-rules');
    try {
      const dir = await tempDir('proxy-rules');
      const result = await quietly(async () =>
        runVerify(worldConfig(world, prefix, { LOG_LEVEL: 'silent', HYGIENE_SMTP_PROXY: proxy.url }), { file: await contactsFile(dir), outDir: dir, localWorkers: true, json: true, syntaxOnly: false }),
      );
      expect(isHygieneError(result.error, 'OUTBOUND_PROXY_FAILED'), String(result.error)).toBe(true);
      const message = (result.error as Error).message;
      expect(message).toContain(`the SMTP proxy ${proxy.url} (HYGIENE_SMTP_PROXY) could not or would not connect to port ${world.smtpPort} of the first 5 mail servers`);
      expect(message).toContain('connection not allowed by its ruleset (SOCKS5 reply 2)');
      expect(await keysOf(`${prefix}:verdict:*`)).toEqual([]);
      // The proxy refused; not one connection reached the world.
      expect(Object.values(world.stats()).reduce((n, s) => n + s.sessionsOpened, 0)).toBe(0);
      expect(await proxy.output()).toContain('block(1)');
    } finally {
      await proxy.stop();
      await world.stop();
      await deletePrefix(prefix);
    }
  }, 60_000);
});

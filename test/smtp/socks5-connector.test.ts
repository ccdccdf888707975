/**
 * The SOCKS5 connector (smtp/socks5-connector.ts) decides whose fault a failed connect is. Read byte
 * by byte (readSocks5Progress), then against scripted proxies that answer each RFC 1928 reply code,
 * refuse credentials or fall silent, and against a real microsocks: the MX refusing (REP 5) is the MX's
 * failure, the proxy's own refusals, silence and credential refusals are ours (SMTP_PROXY_*), a CONNECT
 * still pending at the connect timeout is an MX timeout, and no error, log or context quotes the password.
 */
import net from 'node:net';
import { startScriptedSocksProxy, type Script } from '../peers/scripted-socks-proxy.ts';
import util from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/app/redis-connection.ts';
import { parseSocksProxyUrl, type SocksProxyUrl } from '../../src/config/setting-values.ts';
import { isSmtpError, type SmtpError } from '../../src/errors.ts';
import { socks5Connector, type ProxyOutcome } from '../../src/smtp/socks5-connector.ts';
import { readSocks5Progress } from '../../src/smtp/socks5-progress.ts';
import { startBlackhole } from '../peers/blackhole.ts';
import { microsocksAvailability, startMicrosocks } from '../peers/socks-proxy.ts';

describe('readSocks5Progress', () => {
  it.each([
    [[], { stage: 'greeting', notSocks5: false }],
    [[5], { stage: 'greeting', notSocks5: false }],
    [[0x32], { stage: 'greeting', notSocks5: true }],
    [[0x32, 0x32, 0x30], { stage: 'greeting', notSocks5: true }], // "220" from an SMTP server
    [[5, 0xff], { stage: 'greeting', notSocks5: false, method: 0xff }],
    [[5, 1], { stage: 'greeting', notSocks5: false, method: 1 }],
    [[5, 0], { stage: 'request', notSocks5: false, method: 0 }],
    [[5, 0, 5], { stage: 'request', notSocks5: false, method: 0 }],
    [[5, 0, 5, 2], { stage: 'replied', notSocks5: false, method: 0, reply: 2 }],
    [[5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 25], { stage: 'replied', notSocks5: false, method: 0, reply: 0 }],
    [[5, 2], { stage: 'auth', notSocks5: false, method: 2 }],
    [[5, 2, 1], { stage: 'auth', notSocks5: false, method: 2 }],
    [[5, 2, 1, 1], { stage: 'auth', notSocks5: false, method: 2, authStatus: 1 }],
    [[5, 2, 1, 0], { stage: 'request', notSocks5: false, method: 2, authStatus: 0 }],
    [[5, 2, 1, 0, 5, 5], { stage: 'replied', notSocks5: false, method: 2, authStatus: 0, reply: 5 }],
  ])('%j → %j', (bytes, expected) => {
    expect(readSocks5Progress(Uint8Array.from(bytes as number[]))).toEqual(expected);
  });
});

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function scriptedProxy(script: Script): Promise<{ port: number; sockets: net.Socket[] }> {
  const proxy = await startScriptedSocksProxy(script);
  servers.push(proxy.server);
  return proxy;
}

function proxyAt(port: number, credentials = ''): SocksProxyUrl {
  const parsed = parseSocksProxyUrl(`socks5://${credentials}127.0.0.1:${port}`);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.value;
}

const TARGET = { host: '127.0.0.1', port: 25, serverName: 'mx.example.test' };

async function connectThrough(proxy: SocksProxyUrl, timeoutMs = 2_000, target = TARGET): Promise<{ error?: SmtpError; outcomes: ProxyOutcome[]; ms: number }> {
  const outcomes: ProxyOutcome[] = [];
  const started = Date.now();
  try {
    const socket = await socks5Connector(proxy, { onOutcome: (o) => outcomes.push(o) }).connect(target, timeoutMs);
    socket.destroy();
    return { outcomes, ms: Date.now() - started };
  } catch (err) {
    if (!isSmtpError(err)) throw err;
    return { error: err, outcomes, ms: Date.now() - started };
  }
}

describe('socks5Connector: whose fault each answer is', () => {
  it.each([
    [1, 'SMTP_PROXY_REFUSED', 'proxy-refused', 'general SOCKS server failure'],
    [2, 'SMTP_PROXY_REFUSED', 'proxy-refused', 'connection not allowed by its ruleset'],
    [3, 'SMTP_CONNECT_FAILED', 'target-unreachable', 'network unreachable'],
    [4, 'SMTP_CONNECT_FAILED', 'target-unreachable', 'host unreachable'],
    [5, 'SMTP_CONNECT_FAILED', 'target-refused', 'connection refused'],
    [6, 'SMTP_TIMEOUT', 'target-unreachable', 'TTL expired'],
    [7, 'SMTP_PROXY_REFUSED', 'proxy-refused', 'command not supported'],
    [8, 'SMTP_PROXY_REFUSED', 'proxy-refused', 'address type not supported'],
  ])('CONNECT answered with REP %i: %s (%s)', async (reply, code, kind, text) => {
    const { port } = await scriptedProxy({ reply });
    const { error, outcomes } = await connectThrough(proxyAt(port));
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(`${text} (SOCKS5 reply ${reply})`);
    expect(error?.context).toMatchObject({ mx: 'mx.example.test', socksReply: reply, proxy: `socks5://127.0.0.1:${port}` });
    if (code === 'SMTP_TIMEOUT') expect(error?.context.phase).toBe('connect');
    if (reply === 5) expect(error?.context.refused).toBe(true);
    expect(outcomes).toEqual([expect.objectContaining({ kind, reply, mx: 'mx.example.test', host: '127.0.0.1', port: 25 })]);
  });

  it('REP 0: a connected socket, outcome connected', async () => {
    const { port } = await scriptedProxy({ reply: 0 });
    const { error, outcomes } = await connectThrough(proxyAt(port));
    expect(error).toBeUndefined();
    expect(outcomes.map((o) => o.kind)).toEqual(['connected']);
  });

  it('no proxy listening: SMTP_PROXY_UNREACHABLE (proxy-down), connection refused', async () => {
    const port = await freePort('127.0.0.1');
    const { error, outcomes } = await connectThrough(proxyAt(port));
    expect(error?.code).toBe('SMTP_PROXY_UNREACHABLE');
    expect(error?.message).toBe(`Could not connect to the SMTP proxy socks5://127.0.0.1:${port}: connection refused.`);
    expect(outcomes.map((o) => o.kind)).toEqual(['proxy-down']);
  });

  it('a proxy address that drops SYNs: SMTP_PROXY_UNREACHABLE within the connect timeout', async () => {
    const port = await freePort('127.0.13.1');
    const hole = await startBlackhole('127.0.13.1', port);
    try {
      const parsed = parseSocksProxyUrl(`socks5://127.0.13.1:${port}`);
      if (!parsed.ok) throw new Error(parsed.problem);
      const { error, ms } = await connectThrough(parsed.value, 400);
      expect(error?.code).toBe('SMTP_PROXY_UNREACHABLE');
      expect(error?.message).toContain('did not accept a TCP connection within 400 ms');
      expect(ms).toBeGreaterThanOrEqual(390);
      expect(ms).toBeLessThan(2_000);
    } finally {
      await hole.stop();
    }
  });

  it('a silent server, and an SMTP server where the proxy should be: ours, SMTP_PROXY_UNREACHABLE', async () => {
    const silent = await scriptedProxy({ silent: true });
    const quiet = await connectThrough(proxyAt(silent.port), 300);
    expect(quiet.error?.code).toBe('SMTP_PROXY_UNREACHABLE');
    expect(quiet.error?.message).toContain('did not finish the SOCKS5 handshake within 300 ms');
    const smtp = await scriptedProxy({ raw: '220 mx.example.test ESMTP\r\n' });
    const wrong = await connectThrough(proxyAt(smtp.port));
    expect(wrong.error?.code).toBe('SMTP_PROXY_UNREACHABLE');
    expect(wrong.error?.message).toContain('does not speak SOCKS5');
    expect(wrong.outcomes.map((o) => o.kind)).toEqual(['proxy-down']);
  });

  it('the connect timeout covers the CONNECT: still pending at the timeout is the MX not answering (SMTP_TIMEOUT, phase connect)', async () => {
    const { port } = await scriptedProxy({ reply: 'silent' });
    const { error, outcomes, ms } = await connectThrough(proxyAt(port), 400);
    expect(error?.code).toBe('SMTP_TIMEOUT');
    expect(error?.context.phase).toBe('connect');
    expect(error?.message).toContain('the proxy was still connecting');
    expect(outcomes.map((o) => o.kind)).toEqual(['target-unreachable']);
    expect(ms).toBeLessThan(2_000);
  });

  it('closed without answering the CONNECT: the proxy refused (SMTP_PROXY_REFUSED)', async () => {
    const { port } = await scriptedProxy({ reply: 'close' });
    const { error } = await connectThrough(proxyAt(port));
    expect(error?.code).toBe('SMTP_PROXY_REFUSED');
    expect(error?.message).toContain('closed the connection without answering our CONNECT to mx.example.test [127.0.0.1]:25');
  });

  it('credentials: refused, closed on, wanted but not given, or no method acceptable: SMTP_PROXY_AUTH_FAILED, the password nowhere', async () => {
    const secret = 'hunter2-secret';
    const cases: Array<[Script, string, string]> = [
      [{ method: 2, authStatus: 1 }, `joe:${secret}@`, 'refused our user name and password'],
      [{ method: 2, authStatus: 'close' }, `joe:${secret}@`, 'closed the connection when given our user name and password'],
      [{ method: 0xff }, '', 'requires credentials (socks5://user:password@host:port) and none were given'],
      [{ method: 0xff }, `joe:${secret}@`, 'accepts none of our authentication methods'],
    ];
    for (const [script, credentials, text] of cases) {
      const { port } = await scriptedProxy(script);
      const { error, outcomes } = await connectThrough(proxyAt(port, credentials));
      expect(error?.code, text).toBe('SMTP_PROXY_AUTH_FAILED');
      expect(error?.message).toContain(text);
      expect(outcomes.map((o) => o.kind)).toEqual(['auth-refused']);
      for (const shown of [error?.message, JSON.stringify(error?.context), util.inspect(error, { depth: 5 }), JSON.stringify(outcomes)]) expect(shown).not.toContain(secret);
    }
  });
});

describe.skipIf(!microsocksAvailability().ok)('socks5Connector against microsocks', () => {
  it('the MX refusing is the MX\'s failure (REP 5), an MX dropping SYNs times out within the connect timeout', async () => {
    const proxy = await startMicrosocks();
    const port = await freePort('127.0.13.2');
    const hole = await startBlackhole('127.0.13.3', port);
    try {
      const parsed = parseSocksProxyUrl(proxy.url);
      if (!parsed.ok) throw new Error(parsed.problem);
      const refused = await connectThrough(parsed.value, 2_000, { host: '127.0.13.2', port, serverName: 'mx.refusing.test' });
      expect(refused.error?.code).toBe('SMTP_CONNECT_FAILED');
      expect(refused.error?.context.refused).toBe(true);
      expect(refused.outcomes.map((o) => o.kind)).toEqual(['target-refused']);
      const dropped = await connectThrough(parsed.value, 500, { host: '127.0.13.3', port, serverName: 'mx.dropping.test' });
      expect(dropped.error?.code).toBe('SMTP_TIMEOUT');
      expect(dropped.error?.context.phase).toBe('connect');
      expect(dropped.outcomes.map((o) => o.kind)).toEqual(['target-unreachable']);
      expect(dropped.ms).toBeLessThan(2_000);
    } finally {
      await hole.stop();
      await proxy.stop();
    }
  });
});

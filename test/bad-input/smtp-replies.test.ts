/**
 * Hostile SMTP replies, end to end through the engine: scripted raw `net` servers, each on its own
 * 127.x IP and all on one port, registered as MX hosts through the simulated DNS server. Each
 * misbehaviour (overlong line, garbage, bare LF, silence, a failed TLS handshake, a flood of reply
 * lines) must end in a verdict with a reason and a readable detail — never a crash, a hang or a
 * leaked socket.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/app/redis-connection.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { startScriptedSmtpServer, type ScriptedConnection, type ScriptedSmtpServer, type SmtpScript } from '../peers/scripted-smtp-server.ts';
import { clearPrefix, expectEveryRowOnce, removeDir, tempDir, uniquePrefix, writeContacts } from '../faults/fault-helpers.ts';
import { configFor, runList, startRuntime, worldEnv } from '../faults/world-fixtures.ts';

/** A well-behaved dialogue up to RCPT, with hooks to break one step. */
function dialogue(options: { eol?: string; ehlo?: (c: ScriptedConnection) => void; starttls?: (c: ScriptedConnection) => void; rcpt?: (c: ScriptedConnection) => void }): SmtpScript {
  const eol = options.eol ?? '\r\n';
  return async (c) => {
    c.send(`220 mx.scripted.test ESMTP${eol}`);
    for (;;) {
      const line = await c.readLine(10_000);
      if (line === null) return;
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO' || verb === 'HELO') {
        if (options.ehlo) options.ehlo(c);
        else c.send(`250-mx.scripted.test${eol}250-PIPELINING${eol}${options.starttls ? `250-STARTTLS${eol}` : ''}250 8BITMIME${eol}`);
      } else if (verb === 'STAR' && options.starttls) {
        options.starttls(c);
        return;
      } else if (verb === 'MAIL' || verb === 'RSET') {
        c.send(`250 2.1.0 Ok${eol}`);
      } else if (verb === 'RCPT') {
        if (options.rcpt) options.rcpt(c);
        else c.send(`250 2.1.5 Ok${eol}`);
      } else if (verb === 'QUIT') {
        c.send(`221 2.0.0 Bye${eol}`);
        c.end();
        return;
      } else {
        c.send(`502 5.5.2 Error: command not recognized${eol}`);
      }
    }
  };
}

interface Scenario {
  domain: string;
  ip: string;
  script: SmtpScript;
  /** Accepted status/reason pairs. */
  expect: RegExp;
  /** What the detail must say. */
  detail: RegExp;
}

const SCENARIOS: Scenario[] = [
  { domain: 'overlong.test', ip: '127.0.0.61', script: dialogue({ rcpt: (c) => c.send(`250 ${'x'.repeat(200_000)}`) }), expect: /^unknown\/smtp_error$/, detail: /line longer than 4096 bytes/ },
  {
    domain: 'garbage.test',
    ip: '127.0.0.62',
    script: (c) => {
      c.send('HELLO, I AM NOT AN SMTP SERVER\r\n\x00\x01\x02 binary junk \xff\r\n');
    },
    expect: /^unknown\/smtp_error$/,
    detail: /not an SMTP reply: HELLO, I AM NOT AN SMTP SERVER\)/,
  },
  // Bare LF line endings are tolerated (many real servers send them): the dialogue still works.
  { domain: 'barelf.test', ip: '127.0.0.63', script: dialogue({ eol: '\n' }), expect: /^deliverable\/accepted$/, detail: /accepted this address/ },
  { domain: 'silent.test', ip: '127.0.0.64', script: () => undefined, expect: /^unknown\/timeout$/, detail: /No reply from the mail server within 500 ms \(greeting\)/ },
  {
    domain: 'tlsfail.test',
    ip: '127.0.0.65',
    script: dialogue({
      starttls: (c) => {
        c.send('220 2.0.0 Ready to start TLS\r\n');
        // Not a TLS ServerHello: the handshake fails.
        setTimeout(() => {
          c.send('this is not a TLS record\r\n');
          c.end();
        }, 20);
      },
    }),
    // Opportunistic TLS: a failed handshake is retried in plain text (as Postfix's "may" level does).
    expect: /^deliverable\/accepted$/,
    detail: /accepted this address/,
  },
  {
    domain: 'flood.test',
    ip: '127.0.0.66',
    script: dialogue({
      ehlo: (c) => {
        const line = '250-FLOOD of reply lines\r\n';
        c.send(line.repeat(50_000));
      },
    }),
    expect: /^unknown\/smtp_error$/,
    detail: /more than 200 lines in one reply/,
  },
];

async function startOnSharedPort(): Promise<{ port: number; servers: ScriptedSmtpServer[] }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(SCENARIOS[0]!.ip);
    const servers: ScriptedSmtpServer[] = [];
    try {
      for (const s of SCENARIOS) servers.push(await startScriptedSmtpServer(s.script, { host: s.ip, port }));
      return { port, servers };
    } catch {
      await Promise.all(servers.map((s) => s.close()));
    }
  }
  throw new Error('no port free on every scenario IP');
}

function socketCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length;
}

describe('hostile SMTP replies end to end', () => {
  let runtime: HygieneRuntime | undefined;
  let servers: ScriptedSmtpServer[] = [];
  let dns: SimDnsServer | undefined;
  let dir = '';
  let prefix = '';

  afterEach(async () => {
    await runtime?.close();
    await Promise.all(servers.map((s) => s.close()));
    await dns?.stop();
    await clearPrefix(prefix);
    await removeDir(dir);
  });

  it('every misbehaving server ends in a verdict with a reason, and no socket is leaked', async () => {
    const baseline = socketCount();
    const started = await startOnSharedPort();
    servers = started.servers;
    const spec = parseWorldSpec({
      mxHosts: Object.fromEntries(SCENARIOS.map((s) => [`mx.${s.domain}`, { ip: s.ip }])),
      domains: Object.fromEntries(SCENARIOS.map((s) => [s.domain, { mx: [{ host: `mx.${s.domain}`, preference: 10 }] }])),
    });
    dns = await startSimDnsServer(spec);
    prefix = uniquePrefix('smtp-replies');
    dir = await tempDir('smtp-replies');
    const emails = SCENARIOS.flatMap((s) => [`first@${s.domain}`, `second@${s.domain}`]);
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    const env = worldEnv([dns.address], started.port, prefix, {
      HYGIENE_CONNECT_TIMEOUT_MS: '500',
      HYGIENE_GREETING_TIMEOUT_MS: '500',
      HYGIENE_COMMAND_TIMEOUT_MS: '500',
      HYGIENE_GREYLIST_ATTEMPTS: '1',
      HYGIENE_IDLE_SESSION_MS: '0',
    });
    runtime = await startRuntime(configFor(env), true);
    const report = await runList(runtime, input, dir);
    const outputs = await expectEveryRowOnce(report, ids);
    const byEmail = new Map([...outputs.cleaned, ...outputs.rejected].map((r) => [r.email ?? '', r]));
    for (const s of SCENARIOS) {
      for (const local of ['first', 'second']) {
        const row = byEmail.get(`${local}@${s.domain}`)!;
        const detail = row.hygiene_detail ?? '';
        expect(`${row.hygiene_status}/${row.hygiene_reason}`, `${s.domain}: ${detail}`).toMatch(s.expect);
        // Readable: says what happened, one line, no control characters or megabytes of server junk.
        expect(detail, s.domain).toMatch(s.detail);
        expect(detail, s.domain).not.toMatch(/[\x00-\x1f\x7f]/);
        expect(detail.length + (row.hygiene_smtp_reply?.length ?? 0), s.domain).toBeLessThan(2_000);
      }
    }
    for (const server of servers) expect(server.scriptErrors).toEqual([]);

    await runtime.close();
    runtime = undefined;
    // Every connection the engine opened is closed on the server side too.
    await new Promise((r) => setTimeout(r, 200));
    for (const server of servers) for (const c of server.connections) expect(c.isClosed()).toBe(true);
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    await dns.stop();
    dns = undefined;
    await new Promise((r) => setTimeout(r, 100));
    expect(socketCount()).toBeLessThanOrEqual(baseline);
  });
});

/**
 * Hostile servers whose replies fall out of step with pipelined commands (issue 12, item 8): one
 * skips a reply, one answers twice (at once, or a moment later), one answers out of order, one
 * answers with a reply that cannot be its command's. Matched by count, each would pin verdicts on the
 * wrong addresses. Each server misbehaves only when commands come pipelined and answers truly when
 * they come one at a time: every address must end with its true verdict (never another address's),
 * after the engine discarded the window's answers and went on without pipelining for that host,
 * saying so once in its log.
 */
import { Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/app/redis-connection.ts';
import { startSimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { startScriptedSmtpServer, type ScriptedConnection, type SmtpScript } from '../peers/scripted-smtp-server.ts';
import { deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ADDRESSES = ['yes1', 'no1', 'yes2', 'no2', 'yes3', 'no3', 'yes4', 'no4'];

/** The server's true answer to one command; `echo`: Postfix style `<x@d>:` in rejections. */
function truth(line: string, echo: boolean): string {
  const verb = line.slice(0, 4).toUpperCase();
  if (verb === 'MAIL') return '250 2.1.0 Ok\r\n';
  if (verb === 'RSET') return '250 2.0.0 Ok\r\n';
  const address = /<(.*)>/.exec(line)?.[1] ?? '';
  if (address.startsWith('yes')) return '250 2.1.5 Ok\r\n';
  return `550 5.1.1 ${echo ? `<${address}>: Recipient address rejected: ` : ''}User unknown\r\n`;
}

interface Misbehaviour {
  /** The replies to send now for a pipelined group (their true answers given), and any to send a moment later. */
  (replies: string[]): { now: string[]; later?: string[] };
}

interface Peer {
  script: SmtpScript;
  /** Groups of more than one command received, and commands received alone (MAIL/RCPT/RSET). */
  seen: { pipelinedGroups: number; single: number };
}

function hostilePeer(misbehave: Misbehaviour, echo: boolean): Peer {
  const seen = { pipelinedGroups: 0, single: 0 };
  const script: SmtpScript = async (c: ScriptedConnection) => {
    c.send('220 mx.hostile.test ESMTP\r\n');
    for (;;) {
      const line = await c.readLine(10_000);
      if (line === null) return;
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') {
        c.send('250-mx.hostile.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        continue;
      }
      if (verb === 'QUIT') {
        c.send('221 2.0.0 Bye\r\n');
        c.end();
        return;
      }
      if (verb !== 'MAIL' && verb !== 'RCPT' && verb !== 'RSET') {
        c.send('502 5.5.2 Error: command not recognized\r\n');
        continue;
      }
      await sleep(15); // the rest of a pipelined group arrives meanwhile
      const group = [line];
      while (c.unread() > 0) {
        const next = (await c.readLine())!;
        group.push(next);
        if (/^QUIT/i.test(next)) break;
      }
      const quitting = /^QUIT/i.test(group[group.length - 1]!);
      const commands = quitting ? group.slice(0, -1) : group;
      if (group.length === 1) {
        seen.single += 1;
        c.send(truth(line, echo));
        continue;
      }
      seen.pipelinedGroups += 1;
      const { now, later } = misbehave(commands.map((l) => truth(l, echo)));
      c.send(now.join('') + (quitting ? '221 2.0.0 Bye\r\n' : ''));
      if (later) {
        await sleep(10);
        c.send(later.join(''));
      }
      if (quitting) {
        c.end();
        return;
      }
    }
  };
  return { script, seen };
}

const CASES: Array<[string, Misbehaviour, boolean]> = [
  // Without an echo only the count tells: one reply missing, then silence until the timeout.
  ['skips a reply', (r) => ({ now: r.filter((_, i) => i !== 3) }), false],
  ['answers one command twice, in one write', (r) => ({ now: r.flatMap((x, i) => (i === 2 ? [x, x] : [x])) }), false],
  ['answers one command twice, the copy a moment later', (r) => ({ now: r.filter((_, i) => i !== r.length - 1).flatMap((x, i) => (i === 2 ? [x, x] : [x])), later: [r[r.length - 1]!] }), false],
  ['answers out of order (echoing the addresses)', (r) => ({ now: r.map((x, i) => (i === 2 ? r[3]! : i === 3 ? r[2]! : x)) }), true],
  ["answers MAIL with the first RCPT's reply and the reverse", (r) => ({ now: [r[1]!, r[0]!, ...r.slice(2)] }), false],
  ['slips in a DATA-style 354', (r) => ({ now: r.map((x, i) => (i === 4 ? '354 End data with <CR><LF>.<CR><LF>\r\n' : x)) }), false],
];

describe('replies out of step with pipelined commands', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it.each(CASES)('a server that %s: every address gets its own verdict, the host is probed without pipelining, logged once', async (_name, misbehave, echo) => {
    const ip = '127.0.4.41';
    const port = await freePort(ip);
    const peer = hostilePeer(misbehave, echo);
    const smtp = await startScriptedSmtpServer(peer.script, { host: ip, port });
    const dns = await startSimDnsServer(parseWorldSpec({ mxHosts: { 'mx.hostile.test': { ip } }, domains: { 'hostile.test': { mx: [{ host: 'mx.hostile.test', preference: 10 }] } } }));
    const prefix = uniquePrefix('desync');
    const logLines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _enc, done) => (logLines.push(chunk.toString()), done()) }));
    const config = worldConfig({ dnsServers: [dns.address], smtpPort: port }, prefix, {
      HYGIENE_CATCH_ALL_PROBE: 'false',
      HYGIENE_MAX_SESSIONS_PER_MX: '1',
      HYGIENE_COMMAND_TIMEOUT_MS: '600',
      HYGIENE_BACKOFF_MS: '100',
    });
    const runtime = await startRuntime(config, { logger });
    const dir = await tempDir('desync');
    cleanups.push(async () => {
      await runtime.close();
      await smtp.close();
      await dns.stop();
      await deletePrefix(prefix);
    });
    const file = path.join(dir, 'hostile.csv');
    await writeFile(file, `id,email\n${ADDRESSES.map((local, i) => `${i + 1},${local}@hostile.test`).join('\n')}\n`);

    const out = await runList(runtime, file, path.join(dir, 'out'));
    for (const local of ADDRESSES) {
      const row = out.byEmail.get(`${local}@hostile.test`);
      expect(`${row?.hygiene_status}/${row?.hygiene_reason}`, `${local}: ${row?.hygiene_detail}`).toBe(local.startsWith('yes') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found');
    }
    // It was sent a pipelined group once, then one command at a time.
    expect(peer.seen.pipelinedGroups).toBe(1);
    expect(peer.seen.single).toBeGreaterThanOrEqual(ADDRESSES.length + 1);
    expect(logLines.filter((l) => l.includes('without pipelining from now on')).length, logLines.join('')).toBe(1);
    expect(smtp.scriptErrors).toEqual([]);
  });
});

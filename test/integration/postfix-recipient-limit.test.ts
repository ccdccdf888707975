/**
 * The learned one-RCPT-per-transaction rule (issue 14 item 3) against a REAL Postfix with
 * `smtpd_recipient_limit = 1`: its second RCPT in a transaction gets Postfix's own
 * `452 4.5.3 Error: too many recipients`. The engine must learn it from that one reply (RSET + MAIL
 * between recipients from then on), remember it fleet-wide in Redis ({p}:rcptrule:{server}), give
 * every address its right verdict (the refused one asked again in the next transaction, not given
 * up), and send no further 452-provoking RCPT: at most one 452 in the whole run, and a second run
 * (a fresh process of the fleet) starts with the rule and sees none.
 *
 * Needs Postfix installed and root (private-postfix.ts); skipped with the reason otherwise, except
 * under CI.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimDnsServer, type SimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { rcptRuleKey } from '../../src/store/redis-keys.ts';
import { countsProblems, deletePrefix, REDIS_URL, runList, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';
import { postfixAvailability, startPrivatePostfix, type PrivatePostfix } from './private-postfix.ts';
import { freePort } from '../helpers/free-port.ts';

const IP = '127.0.0.83';
const availability = await postfixAvailability();
const mustRun = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (!availability.ok && !mustRun) process.stderr.write(`[postfix recipient limit] skipped: ${availability.reason}\n`);

const existing = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((l) => `${l}@limit.test`);
const unknown = ['nobody1', 'nobody2', 'nobody3'].map((l) => `${l}@limit.test`);

describe.skipIf(!availability.ok && !mustRun)('engine against a real Postfix with smtpd_recipient_limit = 1', () => {
  let pf: PrivatePostfix | undefined;
  let dns: SimDnsServer | undefined;
  let prefix = '';
  let dir = '';
  let port = 0;
  const runs: Array<{ out: ListOutputs; codes: number[]; transcript: string[] }> = [];

  async function run(label: string): Promise<{ out: ListOutputs; codes: number[]; transcript: string[] }> {
    const codes: number[] = [];
    const transcript: string[] = [];
    const runtime = await startRuntime(
      worldConfig({ dnsServers: [dns!.address], smtpPort: port }, prefix, { HYGIENE_HELO_NAME: 'verifier.test', HYGIENE_MAIL_FROM: 'verify@verifier.test' }),
      { poolEvents: { onReply: (_mx, _list, code) => codes.push(code), onTranscript: (_mx, e) => transcript.push(`${e.direction === 'client' ? 'C' : 'S'} ${e.text}`) } },
    );
    try {
      const file = path.join(dir, `${label}.csv`);
      await writeFile(file, `email\n${[...existing, ...unknown].sort().join('\n')}\n`);
      const out = await runList(runtime, file, path.join(dir, `out-${label}`));
      return { out, codes, transcript };
    } finally {
      await runtime.close();
    }
  }

  beforeAll(async () => {
    if (!availability.ok) throw new Error(`CI must run the real-Postfix test, but: ${availability.reason}`);
    port = await freePort(IP);
    pf = await startPrivatePostfix({ hostname: 'mx.limit.test', ip: IP, port, domains: ['limit.test'], mailboxes: existing, mainCf: { smtpd_recipient_limit: '1' } });
    dns = await startSimDnsServer(parseWorldSpec({ mxHosts: { 'mx.limit.test': { ip: IP } }, domains: { 'limit.test': { mx: [{ host: 'mx.limit.test', preference: 10 }] } } }));
    prefix = uniquePrefix('rcptlimit');
    dir = await tempDir('rcpt-limit');
    runs.push(await run('first'));
    // Another process of the fleet, later: verdict cache emptied, the learned rule kept.
    const redis = new Redis(REDIS_URL);
    try {
      const keys = await redis.keys(`${prefix}:verdict:*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    runs.push(await run('second'));
  }, 120_000);

  afterAll(async () => {
    await dns?.stop();
    await pf?.stop();
    if (prefix) await deletePrefix(prefix);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives every address its right verdict in both runs (the refused one asked again, not given up)', () => {
    for (const { out } of runs) {
      expect(countsProblems(out.report)).toEqual([]);
      for (const a of existing) expect(`${out.byEmail.get(a)?.hygiene_status}/${out.byEmail.get(a)?.hygiene_reason}`, a).toBe('deliverable/accepted');
      for (const a of unknown) expect(`${out.byEmail.get(a)?.hygiene_status}/${out.byEmail.get(a)?.hygiene_reason}`, a).toBe('undeliverable/mailbox_not_found');
    }
  });

  it("learns from Postfix's one 452 4.5.3 and remembers it fleet-wide: the second run sees none", async () => {
    // The first pipelined window meets the limit (its 2nd..nth RCPT get 452); from the next
    // transaction on (the first RSET) no RCPT is ever refused for it again.
    const first = runs[0]!.transcript;
    const firstRset = first.findIndex((line) => line === 'C RSET');
    const last452 = first.reduce((at, line, i) => (line.startsWith('S 452') ? i : at), -1);
    expect(runs[0]!.codes).toContain(452);
    expect(firstRset).toBeGreaterThan(0);
    expect(last452).toBeLessThan(firstRset);
    expect(runs[1]!.codes.filter((c) => c === 452)).toEqual([]);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.get(rcptRuleKey(prefix, IP))).toBe('1');
      expect(await redis.ttl(rcptRuleKey(prefix, IP))).toBeGreaterThan(86_400);
    } finally {
      redis.disconnect();
    }
  });
});

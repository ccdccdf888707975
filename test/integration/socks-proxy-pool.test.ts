/**
 * A pool of outbound identities through real SOCKS5 servers (microsocks) in front of the simulated
 * world (issue 15 item 2): a dead proxy among several identities rests that identity (said loudly)
 * and the others carry the run with every verdict right; only when every identity's proxy fails
 * does the run stop early (OUTBOUND_PROXY_FAILED), caching nothing. Each microsocks binds its own
 * outgoing address, so the world sees two clients, and the verdicts name the identity that asked.
 */
import { readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/app/redis-connection.ts';
import { runVerify } from '../../src/cli/verify-command.ts';
import { isHygieneError } from '../../src/errors.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { microsocksAvailability, startMicrosocks, type SocksPeer } from '../peers/socks-proxy.ts';
import { startScriptedSocksProxy } from '../peers/scripted-socks-proxy.ts';
import { deletePrefix, readOutput, REDIS_URL, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';
import { quietly } from '../helpers/quietly.ts';

const microsocks = microsocksAvailability();
const DOMAINS = ['alpha', 'bravo', 'charlie', 'delta'].map((d) => `${d}.test`);

describe.skipIf(!microsocks.ok)('a pool of SOCKS5 identities (microsocks)', () => {
  let world: MailWorld;
  const peers: SocksPeer[] = [];
  const walls: net.Server[] = [];
  const prefixes: string[] = [];
  const clientsSeen = new Set<string>();

  beforeAll(async () => {
    const mxHosts: Record<string, unknown> = {};
    const domains: Record<string, unknown> = {};
    DOMAINS.forEach((d, i) => {
      mxHosts[`mx.${d}`] = { ip: `127.0.16.${10 + i}`, behaviour: { replies: { ehlo: '{host} at your service, [{client}]' } } };
      domains[d] = { mx: [{ host: `mx.${d}`, preference: 10 }], mailboxes: ['alice', 'bob'] };
    });
    world = await startMailWorld(parseWorldSpec({ mxHosts, domains }), {
      onTranscript: (e) => {
        const m = /connect from \[(\d+\.\d+\.\d+\.\d+)\]/.exec(e.line);
        if (e.direction === '*' && m) clientsSeen.add(m[1]!);
      },
    });
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    await Promise.all(walls.map((w) => new Promise((resolve) => w.close(resolve))));
    await world?.stop();
    for (const p of prefixes) await deletePrefix(p);
  });

  const verify = async (label: string, proxies: string) => {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    const dir = await tempDir(label);
    const input = path.join(dir, 'contacts.csv');
    await writeFile(input, `email\n${DOMAINS.flatMap((d) => [`alice@${d}`, `bob@${d}`, `nobody@${d}`]).join('\n')}\n`);
    const result = await quietly(async () => runVerify(worldConfig(world, prefix, { LOG_LEVEL: 'silent', HYGIENE_SMTP_PROXY: proxies }), { file: input, outDir: dir, localWorkers: true, json: true, syntaxOnly: false }));
    return { prefix, dir, ...result };
  };

  it('one dead proxy among two: that identity rests, the other carries the run with every verdict right', async () => {
    const live = await startMicrosocks({ bindAddress: '127.0.0.91' });
    peers.push(live);
    const deadPort = await freePort('127.0.0.1');
    clientsSeen.clear();
    const run = await verify('pool-dead-one', `socks5://127.0.0.1:${deadPort}#id=dead,${live.url}#id=live`);
    expect(run.error, String(run.error)).toBeUndefined();
    const cleaned = await readOutput(path.join(run.dir, 'contacts.cleaned.csv'));
    const rejected = await readOutput(path.join(run.dir, 'contacts.rejected.csv'));
    expect(cleaned.map((r) => `${r.email} ${r.hygiene_status}`).sort()).toEqual(DOMAINS.flatMap((d) => [`alice@${d} deliverable`, `bob@${d} deliverable`]).sort());
    expect(rejected.map((r) => `${r.email} ${r.hygiene_reason}`).sort()).toEqual(DOMAINS.map((d) => `nobody@${d} mailbox_not_found`).sort());
    // Every session the world saw came through the live proxy's outgoing address.
    expect([...clientsSeen]).toEqual(['127.0.0.91']);
  }, 60_000);

  it('a proxy whose rules refuse port 25 (SOCKS5 reply 5 to every CONNECT) beside a live one: no row pays for our way out', async () => {
    const live = await startMicrosocks({ bindAddress: '127.0.0.91' });
    peers.push(live);
    const walled = await startScriptedSocksProxy({ reply: 5 });
    walls.push(walled.server);
    clientsSeen.clear();
    // The walled identity first: with least-loaded routing it gets probes before its guard has seen enough MX hosts to trip.
    const run = await verify('pool-walled-one', `socks5://127.0.0.1:${walled.port}#id=walled,${live.url}#id=live`);
    expect(run.error, String(run.error)).toBeUndefined();
    const cleaned = await readOutput(path.join(run.dir, 'contacts.cleaned.csv'));
    const rejected = await readOutput(path.join(run.dir, 'contacts.rejected.csv'));
    expect(cleaned.map((r) => `${r.email} ${r.hygiene_status}/${r.hygiene_reason}`).sort()).toEqual(DOMAINS.flatMap((d) => [`alice@${d} deliverable/accepted`, `bob@${d} deliverable/accepted`]).sort());
    expect(rejected.map((r) => `${r.email} ${r.hygiene_reason}`).sort()).toEqual(DOMAINS.map((d) => `nobody@${d} mailbox_not_found`).sort());
    expect([...clientsSeen]).toEqual(['127.0.0.91']);
  }, 60_000);

  it('every proxy dead: the run stops early with OUTBOUND_PROXY_FAILED, nothing cached', async () => {
    const a = await freePort('127.0.0.1');
    const b = await freePort('127.0.0.1');
    const run = await verify('pool-dead-all', `socks5://127.0.0.1:${a}#id=one,socks5://127.0.0.1:${b}#id=two`);
    expect(isHygieneError(run.error, 'OUTBOUND_PROXY_FAILED'), String(run.error)).toBe(true);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`${run.prefix}:verdict:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect((await readdir(run.dir)).filter((f) => f !== 'contacts.csv')).toEqual([]);
  }, 60_000);
});

/**
 * Benchmark 5 (issue 15): throughput with one vs two outbound identities on the same simulated
 * provider, measured in one run. The provider ("benchmail", added through HYGIENE_PROVIDERS_FILE as
 * a user would) has two MX names and a polite limit per identity: 1 session at once and
 * `rcptsPerMinute` RCPTs a minute, counted across both names. The world enforces a per-client rate
 * just above it (so going faster would be throttled, and is counted). Identities are local
 * addresses (HYGIENE_LOCAL_ADDRESS=127.0.0.2[,127.0.0.3]): the world sees two clients. Same list,
 * same world, fresh Redis prefix each time; the ratio is two ÷ one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startMailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { runList, startRuntime, worldConfig } from '../helpers/run-list.ts';
import { dropPrefix, freshPrefix } from './bench-support.ts';

export interface IdentityRun {
  identities: number;
  addresses: number;
  elapsedMs: number;
  addressesPerSecond: number;
  right: number;
  /** Most sessions at once the provider saw (all its names and addresses, all clients). */
  maxSessionsAtOnce: number;
  throttled: number;
}

export async function runIdentityBench(addresses: number, rcptsPerMinute: number, localAddresses: string[]): Promise<IdentityRun> {
  const mailboxes = Array.from({ length: addresses }, (_, i) => `user${i}`).filter((_, i) => i % 5 !== 4);
  // The provider's limit a minute per client, with the headroom limit-policy.ts promises (any sliding
  // minute stays under 7/6 of the profile's rate): faster would be throttled, and counted.
  const behaviour = {
    greeting: '220 {host} ESMTP benchmail',
    rateLimits: [{ count: 'rcpt', max: Math.ceil(rcptsPerMinute * 1.2), windowMs: 60_000, reply: '450 4.7.1 Error: too many recipients from {client}' }],
  };
  const spec = parseWorldSpec({
    mxHosts: {
      'mx1.benchmail.test': { ip: '127.0.15.10', operator: 'benchmail', behaviour },
      'mx2.benchmail.test': { ip: '127.0.15.11', operator: 'benchmail', behaviour },
    },
    domains: {
      'bench.test': {
        mx: [
          { host: 'mx1.benchmail.test', preference: 10 },
          { host: 'mx2.benchmail.test', preference: 10 },
        ],
        mailboxes,
      },
    },
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-identity-bench-'));
  const world = await startMailWorld(spec);
  const prefix = freshPrefix(`identities-${localAddresses.length}`);
  try {
    const providers = path.join(dir, 'providers.json');
    await writeFile(
      providers,
      JSON.stringify({
        version: 1,
        providers: [
          {
            slug: 'benchmail',
            name: 'Bench Mail',
            kind: 'mailbox-provider',
            mx: [{ suffix: 'benchmail.test' }],
            profile: { sessionsAtOnce: 1, rcptsPerMinute, sessionStartsPerMinute: 60 },
            sources: ['test/bench/identity-bench.ts'],
          },
        ],
      }),
    );
    const file = path.join(dir, 'contacts.csv');
    await writeFile(file, `email\n${Array.from({ length: addresses }, (_, i) => `user${i}@bench.test`).join('\n')}\n`);
    const runtime = await startRuntime(worldConfig(world, prefix, { HYGIENE_PROVIDERS_FILE: providers, HYGIENE_LOCAL_ADDRESS: localAddresses.join(',') }));
    const started = performance.now();
    let out;
    try {
      out = await runList(runtime, file, path.join(dir, 'out'));
    } finally {
      await runtime.close();
    }
    const elapsedMs = performance.now() - started;
    let right = 0;
    for (let i = 0; i < addresses; i++) {
      const row = out.byEmail.get(`user${i}@bench.test`);
      const want = i % 5 !== 4 ? 'deliverable' : 'undeliverable';
      if (row?.hygiene_status === want) right++;
    }
    const op = world.operatorStats().benchmail;
    return { identities: localAddresses.length, addresses, elapsedMs, addressesPerSecond: addresses / (elapsedMs / 1000), right, maxSessionsAtOnce: op?.maxConcurrentSessions ?? 0, throttled: op?.rateLimited ?? 0 };
  } finally {
    await world.stop();
    await dropPrefix(prefix);
    await rm(dir, { recursive: true, force: true });
  }
}

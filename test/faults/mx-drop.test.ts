/**
 * Fault: an MX drops the connection in the middle of a pipelined RCPT window (world behaviour
 * dropAfterRcpts). Addresses answered before the drop keep their verdicts; the unanswered ones are
 * probed again on a new session; no address is answered twice.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import type { TranscriptEvent } from '../../src/world/sim-mta.ts';
import { clearPrefix, expectEveryRowOnce, removeDir, tempDir, uniquePrefix, writeContacts } from './fault-helpers.ts';
import { configFor, runList, startRuntime, twoDomainWorld, worldEnv } from './world-fixtures.ts';

describe('MX drops the connection mid-window', () => {
  let world: MailWorld | undefined;
  let runtime: HygieneRuntime | undefined;
  let dir = '';
  let prefix = '';

  afterEach(async () => {
    await runtime?.close();
    await world?.stop();
    await clearPrefix(prefix);
    await removeDir(dir);
  });

  it('answered addresses keep their verdicts; the rest are probed on a new session, none twice', async () => {
    const events: TranscriptEvent[] = [];
    world = await startMailWorld(twoDomainWorld({ dropAfterRcpts: 5 }), { onTranscript: (e) => events.push(e) });
    prefix = uniquePrefix('drop');
    dir = await tempDir('drop');
    const emails = Array.from({ length: 12 }, (_, i) => `${i % 3 === 0 ? 'no' : 'ok'}${i}@alpha.test`);
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    runtime = await startRuntime(configFor(worldEnv(world.dnsServers, world.smtpPort, prefix, { HYGIENE_MAX_SESSIONS_PER_MX: '1' })), true);
    const report = await runList(runtime, input, dir);
    const outputs = await expectEveryRowOnce(report, ids);
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      const email = row.email ?? '';
      expect(`${row.hygiene_status}/${row.hygiene_reason}`, email).toBe(email.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found');
    }

    // Pair every RCPT the server read with the reply it sent (if any) in the same session.
    const answered = new Map<string, number>();
    const pending = new Map<number, string>();
    const pipelined = new Map<number, number>();
    for (const e of events.filter((ev) => ev.host === 'mx.alpha.test')) {
      const rcpt = /^RCPT TO:<([^>]+)>/i.exec(e.line);
      if (e.direction === 'C' && rcpt) {
        pending.set(e.session, rcpt[1]!.toLowerCase());
        pipelined.set(e.session, (pipelined.get(e.session) ?? 0) + 1);
      } else if (e.direction === 'S' && /^\d{3} /.test(e.line) && pending.has(e.session)) {
        const address = pending.get(e.session)!;
        answered.set(address, (answered.get(address) ?? 0) + 1);
        pending.delete(e.session);
      }
    }
    expect([...answered.keys()].sort()).toEqual([...emails].map((e) => e.toLowerCase()).sort());
    expect([...answered.values()].every((n) => n === 1)).toBe(true);

    const stats = world.stats()['mx.alpha.test']!;
    expect(stats.faultDrops).toBeGreaterThanOrEqual(2);
    expect(stats.sessionsOpened).toBeGreaterThanOrEqual(3);
    // 12 answered RCPTs plus one unanswered (the one that triggered the drop) per dropped session.
    expect(stats.rcptCount).toBe(12 + stats.faultDrops);
    expect(stats.dataSeen).toBe(0);
  });
});

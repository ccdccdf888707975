/**
 * Fault: the DNS server stops answering — for one domain (world dns failure 'no_answer') and then
 * altogether (the simulated DNS server is stopped). Lookups time out after bounded
 * retries, the addresses get unknown/dns_error, and the list finishes instead of hanging.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { clearPrefix, expectEveryRowOnce, removeDir, tempDir, uniquePrefix, writeContacts } from './fault-helpers.ts';
import { configFor, runList, startRuntime, worldEnv } from './world-fixtures.ts';

const spec = parseWorldSpec({
  mxHosts: { 'mx.alpha.test': { ip: '127.0.0.41' } },
  domains: {
    'alpha.test': { mx: [{ host: 'mx.alpha.test', preference: 10 }], mailboxes: ['ok1', 'ok2', 'ok3'] },
    'silent.test': { mx: [{ host: 'mx.alpha.test', preference: 10 }], dns: { failure: 'no_answer' } },
  },
});

describe('DNS server stops answering', () => {
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

  it('a domain whose lookups are never answered: bounded retries, then unknown/dns_error; the list finishes', async () => {
    world = await startMailWorld(spec);
    prefix = uniquePrefix('dns');
    dir = await tempDir('dns');
    const emails = ['ok1@alpha.test', 'a@silent.test', 'ok2@alpha.test', 'b@silent.test', 'c@silent.test'];
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    runtime = await startRuntime(configFor(worldEnv(world.dnsServers, world.smtpPort, prefix, { HYGIENE_DNS_TIMEOUT_MS: '300', HYGIENE_DNS_TRIES: '2' })), true);
    const started = Date.now();
    const report = await runList(runtime, input, dir);
    expect(Date.now() - started).toBeLessThan(15_000);
    const outputs = await expectEveryRowOnce(report, ids);
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      if (row.email?.endsWith('@silent.test')) {
        expect(`${row.hygiene_status}/${row.hygiene_reason}`).toBe('unknown/dns_error');
        expect(row.hygiene_detail).toMatch(/silent\.test/);
      } else {
        expect(`${row.hygiene_status}/${row.hygiene_reason}`).toBe('deliverable/accepted');
      }
    }
    // Bounded: the one domain's lookups were asked a handful of times, not in a loop.
    const asked = world.dnsStats().byName['silent.test'] ?? 0;
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThanOrEqual(12);
  });

  it('the DNS server is gone (stopped): every domain ends as unknown/dns_error, never a hang', async () => {
    world = await startMailWorld(spec);
    prefix = uniquePrefix('dns-stop');
    dir = await tempDir('dns-stop');
    await world.stop(); // nothing answers on the DNS port any more
    const emails = ['ok1@alpha.test', 'x@other.test', 'y@third.test'];
    const input = path.join(dir, 'contacts.csv');
    const ids = await writeContacts(input, emails);
    runtime = await startRuntime(configFor(worldEnv(world.dnsServers, world.smtpPort, prefix, { HYGIENE_DNS_TIMEOUT_MS: '300', HYGIENE_DNS_TRIES: '2' })), true);
    const report = await runList(runtime, input, dir);
    const outputs = await expectEveryRowOnce(report, ids);
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      expect(`${row.hygiene_status}/${row.hygiene_reason}`, row.email).toBe('unknown/dns_error');
    }
  });
});

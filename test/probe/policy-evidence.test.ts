/**
 * What it takes to stop probing a whole MX (issue 12, item 1). A mailbox called blocked@ or
 * spamhaus@ that does not exist is a mailbox answer, whatever its name: the host keeps being probed
 * for the rest of the list and for the next lists. And a host that refuses some recipients by policy
 * (Postfix check_recipient_access REJECT is a 554 5.7.1) but accepts others in the same window is not
 * refusing us.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startMailWorld } from '../../src/world/mail-world.ts';
import { startSimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { startScriptedSmtpServer, type SmtpScript } from '../peers/scripted-smtp-server.ts';
import { freePort } from '../../src/app/redis-connection.ts';
import { countsProblems, deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function csv(dir: string, name: string, emails: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `id,email\n${emails.map((e, i) => `${i + 1},${e}`).join('\n')}\n`);
  return file;
}

/** A Postfix-like dialogue whose RCPT answer comes from `answer(address)`. */
function mailboxTable(answer: (address: string) => string): SmtpScript {
  return async (c) => {
    c.send('220 mx.shop.test ESMTP\r\n');
    for (;;) {
      const line = await c.readLine(10_000);
      if (line === null) return;
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') c.send('250-mx.shop.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
      else if (verb === 'MAIL') c.send('250 2.1.0 Ok\r\n');
      else if (verb === 'RSET') c.send('250 2.0.0 Ok\r\n');
      else if (verb === 'RCPT') c.send(`${answer(/<(.*)>/.exec(line)?.[1] ?? '')}\r\n`);
      else if (verb === 'QUIT') {
        c.send('221 2.0.0 Bye\r\n');
        c.end();
        return;
      } else c.send('502 5.5.2 Error: command not recognized\r\n');
    }
  };
}

describe('blocking a whole MX', () => {
  it('mailboxes named blocked@, spamhaus@, relay@, rbl@ that do not exist are mailbox_not_found, and the MX keeps being probed for other lists', async () => {
    const world = await startMailWorld(
      parseWorldSpec({
        mxHosts: { 'mx.acme.test': { ip: '127.0.4.21' } },
        domains: { 'acme.test': { mx: [{ host: 'mx.acme.test', preference: 10 }], mailboxes: ['alice', 'bob', 'carol'] } },
      }),
    );
    const prefix = uniquePrefix('policy-words');
    const runtime = await startRuntime(worldConfig(world, prefix));
    const dir = await tempDir('policy-words');
    cleanups.push(async () => {
      await runtime.close();
      await world.stop();
      await deletePrefix(prefix);
    });

    // The world answers like Postfix: 550 5.1.1 <blocked@acme.test>: Recipient address rejected: User unknown ...
    const first = await runList(runtime, await csv(dir, 'first.csv', ['blocked@acme.test', 'spamhaus@acme.test', 'relay@acme.test', 'rbl@acme.test', 'blacklist@acme.test', 'alice@acme.test']), path.join(dir, 'out'));
    expect(countsProblems(first.report)).toEqual([]);
    for (const local of ['blocked', 'spamhaus', 'relay', 'rbl', 'blacklist']) {
      const row = first.byEmail.get(`${local}@acme.test`);
      expect(`${row?.hygiene_status}/${row?.hygiene_reason}`, local).toBe('undeliverable/mailbox_not_found');
    }
    expect(first.byEmail.get('alice@acme.test')?.hygiene_status).toBe('deliverable');

    // Another list, same process, same MX: probed, not refused from memory.
    const before = world.stats()['mx.acme.test']!.rcptCount;
    const second = await runList(runtime, await csv(dir, 'second.csv', ['bob@acme.test', 'carol@acme.test', 'nobody@acme.test']), path.join(dir, 'out'));
    expect(second.byEmail.get('bob@acme.test')?.hygiene_status).toBe('deliverable');
    expect(second.byEmail.get('carol@acme.test')?.hygiene_status).toBe('deliverable');
    expect(second.byEmail.get('nobody@acme.test')?.hygiene_reason).toBe('mailbox_not_found');
    expect(second.report.counts.byReason.policy_block).toBeUndefined();
    expect(world.stats()['mx.acme.test']!.rcptCount - before).toBe(3);
  });

  it('recipient-specific 5.7.1 refusals in a window where another RCPT was accepted do not block the host', async () => {
    const ip = '127.0.4.22';
    const port = await freePort(ip);
    const smtp = await startScriptedSmtpServer(
      mailboxTable((address) => {
        if (address.startsWith('denied')) return `554 5.7.1 <${address}>: Recipient address rejected: Access denied`;
        if (address.startsWith('nx-')) return `550 5.1.1 <${address}>: Recipient address rejected: User unknown in local recipient table`;
        return '250 2.1.5 Ok';
      }),
      { host: ip, port },
    );
    const dns = await startSimDnsServer(
      parseWorldSpec({ mxHosts: { 'mx.shop.test': { ip } }, domains: { 'shop.test': { mx: [{ host: 'mx.shop.test', preference: 10 }] } } }),
    );
    const prefix = uniquePrefix('policy-window');
    const runtime = await startRuntime(worldConfig({ dnsServers: [dns.address], smtpPort: port }, prefix));
    const dir = await tempDir('policy-window');
    cleanups.push(async () => {
      await runtime.close();
      await smtp.close();
      await dns.stop();
      await deletePrefix(prefix);
    });

    const first = await runList(runtime, await csv(dir, 'first.csv', ['denied1@shop.test', 'denied2@shop.test', 'denied3@shop.test', 'ok1@shop.test']), path.join(dir, 'out'));
    for (const n of [1, 2, 3]) expect(first.byEmail.get(`denied${n}@shop.test`)?.hygiene_reason).toBe('policy_block');
    expect(first.byEmail.get('ok1@shop.test')?.hygiene_status).toBe('deliverable');
    const second = await runList(runtime, await csv(dir, 'second.csv', ['ok2@shop.test', 'ok3@shop.test']), path.join(dir, 'out'));
    expect(second.byEmail.get('ok2@shop.test')?.hygiene_status).toBe('deliverable');
    expect(second.byEmail.get('ok3@shop.test')?.hygiene_status).toBe('deliverable');
    expect(smtp.scriptErrors).toEqual([]);
  });

  it('a host that refuses our client for every recipient is still blocked after two refusals', async () => {
    const world = await startMailWorld(
      parseWorldSpec({
        mxHosts: { 'mx.listed.test': { ip: '127.0.4.23', behaviour: { policyBlock: 'zen.spamhaus.org' } } },
        domains: { 'listed.test': { mx: [{ host: 'mx.listed.test', preference: 10 }], mailboxes: ['a', 'b', 'c', 'd'] } },
      }),
    );
    const prefix = uniquePrefix('policy-listed');
    const runtime = await startRuntime(worldConfig(world, prefix, { HYGIENE_PIPELINE_WINDOW: '2', HYGIENE_CATCH_ALL_PROBE: 'false', HYGIENE_MAX_SESSIONS_PER_MX: '1' }));
    const dir = await tempDir('policy-listed');
    cleanups.push(async () => {
      await runtime.close();
      await world.stop();
      await deletePrefix(prefix);
    });
    const out = await runList(runtime, await csv(dir, 'listed.csv', ['a@listed.test', 'b@listed.test', 'c@listed.test', 'd@listed.test']), path.join(dir, 'out'));
    expect(out.report.counts.byReason.policy_block).toBe(4);
    // The first window of two was refused; the other two were answered from that, not probed.
    expect(world.stats()['mx.listed.test']!.rcptCount).toBe(2);
  });
});

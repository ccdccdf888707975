/**
 * `HYGIENE_TLS=required` end to end (issue 12, item 8): three MX hosts offer STARTTLS with a valid
 * certificate (test CA trusted through HYGIENE_TLS_CA_FILE), a certificate for another name, and a
 * self-signed one. Only the first is probed; the others give unknown with a clear per-host detail,
 * never a verdict about the mailboxes, and never see a RCPT in plain text.
 */
import { writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/app/redis-connection.ts';
import { startSimDnsServer } from '../../src/world/sim-dns-server.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { startScriptedSmtpServer, type ScriptedSmtpServer, type SmtpScript } from '../peers/scripted-smtp-server.ts';
import { deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const TLS_DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const pem = (name: string): string => readFileSync(path.join(TLS_DIR, name), 'utf8');

/** STARTTLS with `certificate`, then a mailbox table: alice exists, anything else is unknown. */
function tlsMailbox(certificate: { key: string; cert: string }): SmtpScript {
  return async (c) => {
    c.send('220 mx ESMTP\r\n');
    let tls = false;
    for (;;) {
      const line = await c.readLine(10_000);
      if (line === null) return;
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') c.send(`250-mx\r\n250-PIPELINING\r\n${tls ? '' : '250-STARTTLS\r\n'}250 8BITMIME\r\n`);
      else if (verb === 'STAR') {
        c.send('220 2.0.0 Ready to start TLS\r\n');
        if (!(await c.startTls(certificate).then(() => true, () => false))) return;
        tls = true;
      } else if (verb === 'MAIL') c.send('250 2.1.0 Ok\r\n');
      else if (verb === 'RSET') c.send('250 2.0.0 Ok\r\n');
      else if (verb === 'RCPT') {
        const address = /<(.*)>/.exec(line)?.[1] ?? '';
        c.send(address.startsWith('alice@') ? '250 2.1.5 Ok\r\n' : `550 5.1.1 <${address}>: Recipient address rejected: User unknown\r\n`);
      } else if (verb === 'QUIT') {
        c.send('221 2.0.0 Bye\r\n');
        c.end();
        return;
      } else c.send('502 5.5.2 Error: command not recognized\r\n');
    }
  };
}

describe('--require-tls verifies MX certificates', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('valid certificate: probed; wrong name or self-signed: unknown with the reason, never undeliverable, no RCPT sent', async () => {
    const hosts = [
      { domain: 'good.test', mx: 'mx.tls.test', ip: '127.0.4.51', certificate: { key: pem('mx.tls.test.key.pem'), cert: pem('mx.tls.test.cert.pem') } },
      { domain: 'wrong.test', mx: 'mx.wrong.test', ip: '127.0.4.52', certificate: { key: pem('other.test.key.pem'), cert: pem('other.test.cert.pem') } },
      { domain: 'self.test', mx: 'mx.self.test', ip: '127.0.4.53', certificate: { key: pem('mx.self.test.key.pem'), cert: pem('mx.self.test.cert.pem') } },
    ];
    const port = await freePort(hosts[0]!.ip);
    const servers: ScriptedSmtpServer[] = [];
    for (const h of hosts) servers.push(await startScriptedSmtpServer(tlsMailbox(h.certificate), { host: h.ip, port }));
    const dns = await startSimDnsServer(
      parseWorldSpec({
        mxHosts: Object.fromEntries(hosts.map((h) => [h.mx, { ip: h.ip }])),
        domains: Object.fromEntries(hosts.map((h) => [h.domain, { mx: [{ host: h.mx, preference: 10 }] }])),
      }),
    );
    const prefix = uniquePrefix('tls-required');
    const runtime = await startRuntime(
      worldConfig({ dnsServers: [dns.address], smtpPort: port }, prefix, {
        HYGIENE_TLS: 'required',
        HYGIENE_TLS_CA_FILE: path.join(TLS_DIR, 'test-ca.cert.pem'),
        HYGIENE_CATCH_ALL_PROBE: 'false',
      }),
    );
    const dir = await tempDir('tls-required');
    cleanups.push(async () => {
      await runtime.close();
      await Promise.all(servers.map((s) => s.close()));
      await dns.stop();
      await deletePrefix(prefix);
    });
    const file = path.join(dir, 'tls.csv');
    const emails = hosts.flatMap((h) => [`alice@${h.domain}`, `nobody@${h.domain}`]);
    await writeFile(file, `id,email\n${emails.map((e, i) => `${i + 1},${e}`).join('\n')}\n`);

    const out = await runList(runtime, file, path.join(dir, 'out'));
    expect(out.byEmail.get('alice@good.test')?.hygiene_status).toBe('deliverable');
    expect(out.byEmail.get('nobody@good.test')?.hygiene_reason).toBe('mailbox_not_found');
    for (const [domain, mx, why] of [
      ['wrong.test', 'mx.wrong.test', /Hostname\/IP does not match certificate's altnames/],
      ['self.test', 'mx.self.test', /self[- ]signed certificate/],
    ] as const) {
      for (const local of ['alice', 'nobody']) {
        const row = out.byEmail.get(`${local}@${domain}`)!;
        expect(`${row.hygiene_status}/${row.hygiene_reason}`, row.hygiene_detail).toBe('unknown/connection_failed');
        expect(row.hygiene_detail).toContain(`The TLS certificate of ${mx} could not be verified`);
        expect(row.hygiene_detail).toMatch(why);
      }
    }
    // Nothing was asked of the hosts whose certificate failed: no plaintext fallback.
    for (const server of servers.slice(1)) for (const c of server.connections) expect(c.lines.filter((l) => /^RCPT/i.test(l))).toEqual([]);
  });
});

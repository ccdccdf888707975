/**
 * The naive baseline: what today's open-source verifiers do. One SMTP connection per address
 * (connect, EHLO, MAIL, RCPT, QUIT), one command at a time, with the same per-MX concurrency cap
 * as the engine. It uses our SmtpSession, so the comparison is about the probing strategy only.
 * MX lookups are cached in memory (a fair baseline does not resolve the same domain 250 times).
 */
import { createDnsMxResolver, type MxHost } from '../../src/dns/mx-resolver.ts';
import { mailFrom, rcptTo } from '../../src/smtp/smtp-commands.ts';
import { SmtpSession } from '../../src/smtp/smtp-session.ts';

export interface BaselineOptions {
  addresses: string[];
  dnsServers: string[];
  smtpPort: number;
  sessionsPerMx: number;
  heloName: string;
  sender: string;
}

export interface BaselineResult {
  elapsedMs: number;
  accepted: number;
  rejected: number;
  failed: number;
}

export async function runNaiveBaseline(options: BaselineOptions): Promise<BaselineResult> {
  const resolver = createDnsMxResolver({ servers: options.dnsServers, timeoutMs: 1000, tries: 1 });
  const started = performance.now();
  const mxOf = new Map<string, Promise<MxHost | null>>();
  const queues = new Map<string, { host: MxHost; addresses: string[] }>();
  for (const address of options.addresses) {
    const domain = address.slice(address.lastIndexOf('@') + 1);
    if (!mxOf.has(domain)) mxOf.set(domain, resolver.resolve(domain).then((r) => (r.kind === 'hosts' ? (r.hosts[0] ?? null) : null)));
  }
  const result: BaselineResult = { elapsedMs: 0, accepted: 0, rejected: 0, failed: 0 };
  for (const address of options.addresses) {
    const host = await mxOf.get(address.slice(address.lastIndexOf('@') + 1))!;
    if (!host) {
      result.failed++;
      continue;
    }
    const queue = queues.get(host.exchange) ?? { host, addresses: [] };
    queue.addresses.push(address);
    queues.set(host.exchange, queue);
  }

  const probe = async (host: MxHost, address: string): Promise<void> => {
    let session: SmtpSession | null = null;
    try {
      session = await SmtpSession.open({
        host: host.addresses[0]!,
        port: options.smtpPort,
        serverName: host.exchange,
        heloName: options.heloName,
        tls: 'off',
        timeouts: { connectMs: 5000, greetingMs: 10_000, commandMs: 10_000 },
      });
      const [mail] = await session.exchange([mailFrom(options.sender)]);
      if (!mail || mail.code !== 250) throw new Error(`MAIL refused: ${mail?.code}`);
      const [rcpt] = await session.exchange([rcptTo(address)]);
      if (rcpt && rcpt.code < 300) result.accepted++;
      else if (rcpt && rcpt.code >= 500) result.rejected++;
      else result.failed++;
    } catch {
      result.failed++;
    } finally {
      await session?.quit();
    }
  };

  await Promise.all(
    [...queues.values()].flatMap(({ host, addresses }) => {
      let next = 0;
      return Array.from({ length: options.sessionsPerMx }, async () => {
        while (next < addresses.length) await probe(host, addresses[next++]!);
      });
    }),
  );
  result.elapsedMs = performance.now() - started;
  return result;
}

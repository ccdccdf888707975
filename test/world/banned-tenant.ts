/**
 * A Microsoft 365 tenant that bans a client IP after a few RCPTs, and a list for it: shared by the
 * breaker tests over local addresses (provider-engine.test.ts) and through SOCKS5 proxies
 * (integration/socks-pool-ban.test.ts), so both see the same tenant, ban reply and right verdicts.
 */
import { readFile } from 'node:fs/promises';
import { parseWorldSpec, type WorldSpec } from '../../src/world/world-spec.ts';

/**
 * contoso.test under its real MX name (Directory-Based Edge Blocking, one RCPT per transaction),
 * banning a client for as long as the world runs after `afterRcpts` RCPTs with Microsoft's 5.7.606;
 * `clients` limits the ban to those client addresses (null: any client).
 */
export async function bannedTenant(afterRcpts: number, clients: string[] | null, mailboxes: string[]): Promise<WorldSpec> {
  const raw = JSON.parse(await readFile('samples/world-providers.json', 'utf8')) as { behaviours: Record<string, unknown> };
  const ban = '550 5.7.606 Access denied, banned sending IP [{client}]. To request removal from this list please visit https://sender.office.com/ and follow the directions.';
  return parseWorldSpec({
    behaviours: { 'microsoft365-dbeb': raw.behaviours['microsoft365-dbeb'] },
    mxHosts: {
      'contoso-test.mail.protection.outlook.com': {
        ip: '127.0.14.30',
        extraIps: ['127.0.14.31'],
        operator: 'microsoft',
        uses: 'microsoft365-dbeb',
        behaviour: { starttls: false, block: { afterRcpts, stage: 'RCPT', reply: ban, durationMs: 0, ...(clients ? { clients } : {}) } },
      },
    },
    domains: { 'contoso.test': { mx: [{ host: 'contoso-test.mail.protection.outlook.com', preference: 10 }], mailboxes } },
  });
}

/** n addresses at contoso.test, every fourth without a mailbox; `want` is each one's right status/reason. */
export function contosoList(n: number): { emails: string[]; mailboxes: string[]; want: (email: string) => string } {
  const emails = Array.from({ length: n }, (_, i) => `user.${String(i).padStart(2, '0')}@contoso.test`);
  const mailboxes = emails.filter((_, i) => i % 4 !== 3).map((e) => e.split('@')[0]!);
  return { emails, mailboxes, want: (email) => (mailboxes.includes(email.split('@')[0]!) ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found') };
}

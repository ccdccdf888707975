/**
 * What a provider-aware engine must answer on the provider world (samples/world-providers.json):
 * the right status and reason of every row of samples/contacts-providers.csv, and a larger list
 * (a world variant with many mailboxes) to measure politeness per provider. Used by
 * provider-baseline.ts today, and by the provider-aware pool's tests later.
 */
import { readFile } from 'node:fs/promises';
import { parseWorldSpec, type WorldSpec } from '../../src/world/world-spec.ts';

export interface Expected {
  status: 'deliverable' | 'undeliverable' | 'risky' | 'unknown';
  /** null: any reason of that status is right (e.g. a throttled mailbox: greylisted, smtp_error or timeout). */
  reason: string | null;
  /** The provider slug the hygiene_provider column must show ('' = none). */
  provider: string;
}

/** Every row of samples/contacts-providers.csv. */
export const SAMPLE_EXPECTATIONS: Readonly<Record<string, Expected>> = {
  'john.smith@gmail.com': { status: 'deliverable', reason: 'accepted', provider: 'google' },
  'jane.doe@gmail.com': { status: 'deliverable', reason: 'accepted', provider: 'google' },
  'no.such.user@gmail.com': { status: 'undeliverable', reason: 'mailbox_not_found', provider: 'google' },
  'old.account@gmail.com': { status: 'undeliverable', reason: 'mailbox_disabled', provider: 'google' },
  'busy.person@gmail.com': { status: 'risky', reason: 'mailbox_full', provider: 'google' },
  'popular.person@gmail.com': { status: 'unknown', reason: null, provider: 'google' },
  'alice@northwind.test': { status: 'deliverable', reason: 'accepted', provider: 'google' },
  'zed@northwind.test': { status: 'undeliverable', reason: 'mailbox_not_found', provider: 'google' },
  'dave@wideworld.test': { status: 'deliverable', reason: 'accepted', provider: 'google' },
  'nobody@wideworld.test': { status: 'undeliverable', reason: 'mailbox_not_found', provider: 'google' },
  'fiona@fabrikam.test': { status: 'risky', reason: 'catch_all', provider: 'google' },
  'ivan@contoso.test': { status: 'deliverable', reason: 'accepted', provider: 'microsoft' },
  'judy@contoso.test': { status: 'deliverable', reason: 'accepted', provider: 'microsoft' },
  'ghost@contoso.test': { status: 'undeliverable', reason: 'mailbox_not_found', provider: 'microsoft' },
  'kim@tailspin.test': { status: 'risky', reason: 'catch_all', provider: 'microsoft' },
  'frank.miller@outlook.com': { status: 'deliverable', reason: 'accepted', provider: 'microsoft' },
  'not.a.user@outlook.com': { status: 'undeliverable', reason: 'mailbox_not_found', provider: 'microsoft' },
  'henry.ford@hotmail.com': { status: 'deliverable', reason: 'accepted', provider: 'microsoft' },
  'lucy.brown@yahoo.com': { status: 'risky', reason: 'catch_all', provider: 'yahoo' },
  'made.up.name@yahoo.com': { status: 'risky', reason: 'catch_all', provider: 'yahoo' },
  'oscar.grouch@aol.com': { status: 'risky', reason: 'catch_all', provider: 'yahoo' },
  'mike.ross@icloud.com': { status: 'deliverable', reason: 'accepted', provider: 'apple' },
  'rachel.zane@icloud.com': { status: 'risky', reason: 'mailbox_full', provider: 'apple' },
  'unknown.person@icloud.com': { status: 'undeliverable', reason: 'mailbox_not_found', provider: 'apple' },
  'peter@initech-corp.test': { status: 'risky', reason: 'catch_all', provider: 'proofpoint' },
  'hank@globex-corp.test': { status: 'deliverable', reason: 'accepted', provider: 'mimecast' },
  'nobody@globex-corp.test': { status: 'undeliverable', reason: 'mailbox_not_found', provider: 'mimecast' },
  'alice.abernathy@umbrella-corp.test': { status: 'risky', reason: 'catch_all', provider: 'barracuda' },
  'customer@regional-isp.test': { status: 'unknown', reason: 'policy_block', provider: '' },
};

/** Which provider each world domain belongs to, for per-provider figures ('' = none). */
export function providerOfDomain(domain: string): string {
  const byDomain: Record<string, string> = {
    'gmail.com': 'google',
    'northwind.test': 'google',
    'wideworld.test': 'google',
    'fabrikam.test': 'google',
    'contoso.test': 'microsoft',
    'tailspin.test': 'microsoft',
    'outlook.com': 'microsoft',
    'hotmail.com': 'microsoft',
    'yahoo.com': 'yahoo',
    'aol.com': 'yahoo',
    'icloud.com': 'apple',
    'initech-corp.test': 'proofpoint',
    'globex-corp.test': 'mimecast',
    'umbrella-corp.test': 'barracuda',
  };
  return byDomain[domain] ?? '';
}

export interface VolumeWorld {
  spec: WorldSpec;
  /** The list, in a mixed order like a real one, with the right verdict of each address. */
  rows: Array<{ email: string; expected: Expected }>;
}

/**
 * The provider world with many more mailboxes, and a list of `perDomain` addresses at each of the
 * busiest domains (Gmail, a Workspace domain, a Microsoft 365 tenant with DBEB, Outlook.com, Yahoo):
 * four in five exist. Enough to cross the world's provider-wide limits (Google: 40 RCPTs a minute;
 * Microsoft: a ban past 30 RCPTs a minute; Yahoo: 10 MAILs a minute) unless an engine spreads them.
 */
export async function volumeWorld(perDomain = 60, file = 'samples/world-providers.json'): Promise<VolumeWorld> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as { tls?: { certFile: string; keyFile: string }; domains: Record<string, { mailboxes?: string[] }> };
  const rows: VolumeWorld['rows'] = [];
  const plan: Array<[string, 'deliverable' | 'catch_all']> = [
    ['gmail.com', 'deliverable'],
    ['northwind.test', 'deliverable'],
    ['contoso.test', 'deliverable'],
    ['outlook.com', 'deliverable'],
    ['yahoo.com', 'catch_all'],
  ];
  for (const [domain, kind] of plan) {
    const d = raw.domains[domain];
    if (!d) throw new Error(`the provider world has no ${domain}`);
    for (let i = 0; i < perDomain; i++) {
      const local = `contact.${String(i).padStart(3, '0')}`;
      const exists = i % 5 !== 4;
      if (exists) d.mailboxes = [...(d.mailboxes ?? []), local];
      const provider = providerOfDomain(domain);
      const expected: Expected =
        kind === 'catch_all'
          ? { status: 'risky', reason: 'catch_all', provider }
          : exists
            ? { status: 'deliverable', reason: 'accepted', provider }
            : { status: 'undeliverable', reason: 'mailbox_not_found', provider };
      rows.push({ email: `${local}@${domain}`, expected });
    }
  }
  // Interleave the domains, as a real list mixes them.
  rows.sort((a, b) => a.email.localeCompare(b.email));
  // A certificate named by file is found next to the sample; "self-signed" stays as it is.
  if (raw.tls && typeof raw.tls === 'object') raw.tls = { certFile: new URL(`../../samples/${raw.tls.certFile}`, import.meta.url).pathname, keyFile: new URL(`../../samples/${raw.tls.keyFile}`, import.meta.url).pathname };
  return { spec: parseWorldSpec(raw), rows };
}

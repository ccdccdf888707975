/**
 * The hygiene_address column (issue 16): the normalised address that was verified, appended after
 * the verdict columns, so a `Jane Roe <JANE@acme.test>` row can be mailed as it is, while the
 * original cell stays untouched. Empty for rows without a valid address; through the formula guard
 * like every appended cell. samples/contacts.csv against the demo world, through the real pipeline.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { HYGIENE_COLUMNS } from '../../src/collector/appended-columns.ts';
import { parseEmailAddress } from '../../src/domain/email-address.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EMAIL = 'E-mail Address';
let world: MailWorld;
let runtime: HygieneRuntime;
let prefix: string;
let out: ListOutputs;
let rows: Record<string, string>[];
const byLastName = (name: string) => rows.find((r) => r['Last Name'] === name)!;

beforeAll(async () => {
  world = await startMailWorld(await loadWorldSpecFile(path.join(ROOT, 'samples/world.json')));
  prefix = uniquePrefix('addrcol');
  runtime = await startRuntime(worldConfig(world, prefix));
  out = await runList(runtime, path.join(ROOT, 'samples/contacts.csv'), await tempDir('addrcol'), { emailHeader: EMAIL });
  rows = [...out.cleaned, ...out.rejected];
});
afterAll(async () => {
  await runtime?.close();
  await world?.stop();
  await deletePrefix(prefix);
});

describe('hygiene_address', () => {
  it('follows the verdict columns, declared once; only hygiene_provider (issue 14) comes after it', () => {
    expect(HYGIENE_COLUMNS.slice(-2)).toEqual(['hygiene_address', 'hygiene_provider']);
    expect(Object.keys(out.cleaned[0]!).slice(-3)).toEqual(['hygiene_flags', 'hygiene_address', 'hygiene_provider']);
    expect(Object.keys(out.rejected[0]!).slice(-3)).toEqual(['hygiene_flags', 'hygiene_address', 'hygiene_provider']);
  });

  it('holds the address that was verified, ready to mail; the original cell is untouched', () => {
    expect(byLastName('Lumbergh')).toMatchObject({ [EMAIL]: 'Bill Lumbergh <bill.lumbergh@initech.test>', hygiene_address: 'bill.lumbergh@initech.test', hygiene_status: 'deliverable' });
    expect(byLastName('Roe')).toMatchObject({ [EMAIL]: 'Jane@ACME.test', hygiene_address: 'Jane@acme.test' });
    expect(byLastName('Wesker')).toMatchObject({ [EMAIL]: '  wesker@umbrella.test  ', hygiene_address: 'wesker@umbrella.test' });
    // IDN domain as its A-label (what SMTP was asked about, and what any MTA accepts).
    expect(byLastName('Bücher').hygiene_address).toBe('info@xn--bcher-kva.test');
    // A duplicate has an address too (it is the same mailbox).
    expect(byLastName('Doe (dup)')).toMatchObject({ hygiene_reason: 'duplicate', hygiene_address: 'JOHN.DOE@acme.test' });
    // A short (ragged) row is padded: its address still sits under the header.
    expect(byLastName('Row')).toMatchObject({ [EMAIL]: 'ragged@acme.test', hygiene_address: 'ragged@acme.test' });
  });

  it('is empty when the row has no valid address', () => {
    for (const name of ['Email', 'Syntax', 'At', 'Injection']) expect(byLastName(name).hygiene_address, name).toBe('');
    for (const row of rows) {
      const parsed = parseEmailAddress(row[EMAIL] ?? '');
      if (!parsed.ok) expect(row.hygiene_address, row[EMAIL]).toBe('');
      else if (!/^[=+\-@]/.test(parsed.address)) expect(row.hygiene_address, row[EMAIL]).toBe(parsed.address);
    }
  });

  it('goes through the formula guard like every appended cell', () => {
    expect(byLastName('Minus')).toMatchObject({ [EMAIL]: "'-2+3@acme.test", hygiene_address: "'-2+3@acme.test" });
  });
});

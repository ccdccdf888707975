/**
 * Issue 16, "headline counts match the files": a 20k-row list made mostly of duplicates, verified
 * through the real pipeline (Redis, workers, collector) against the demo world. Every row is counted
 * once, on its own outcome line: the counts add up to the rows of the two files, per file too, and
 * "deliverable" is the number of deliverable rows in cleaned.csv (the issue saw 989 said, 11 there).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { formatSummary } from '../../src/cli/summary.ts';
import { ROW_LEVEL_OUTCOMES, ROW_OUTCOMES, type RowOutcome } from '../../src/domain/row-outcome.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DELIVERABLE = ['john.doe@acme.test', 'jane@acme.test', 'support@acme.test', 'hank.scorpio@globex.test', 'homer@globex.test', 'peter@initech.test', 'alice@umbrella.test'];
const UNDELIVERABLE = ['nobody@acme.test', 'marge@globex.test', 'old.employee@acme.test'];
const RISKY = ['gavin@hooli.test', 'busy@acme.test'];

/** The outcome a row of an output file shows: its row-level reason, else its status. */
function outcomeOfRow(row: Record<string, string>): RowOutcome {
  const reason = row.hygiene_reason ?? '';
  return (ROW_LEVEL_OUTCOMES as readonly string[]).includes(reason) ? (reason as RowOutcome) : (row.hygiene_status as RowOutcome);
}

function countOutcomes(rows: Record<string, string>[]): Record<RowOutcome, number> {
  const counts = Object.fromEntries(ROW_OUTCOMES.map((o) => [o, 0])) as Record<RowOutcome, number>;
  for (const row of rows) counts[outcomeOfRow(row)] += 1;
  return counts;
}

const sum = (counts: Partial<Record<string, number>>) => Object.values(counts).reduce<number>((a, b) => a + (b ?? 0), 0);

let world: MailWorld;
let runtime: HygieneRuntime;
let prefix: string;
let out: ListOutputs;
const ROWS = 20_000;

beforeAll(async () => {
  world = await startMailWorld(await loadWorldSpecFile(path.join(ROOT, 'samples/world.json')));
  prefix = uniquePrefix('headline');
  runtime = await startRuntime(worldConfig(world, prefix));
  const dir = await tempDir('headline');
  const file = path.join(dir, 'big-dups.csv');
  const lines = ['id,email,name'];
  for (let i = 0; i < ROWS; i++) {
    // Mostly repeats (in other spellings) of a few addresses, plus rows no server is asked about.
    const pick = i % 50;
    let email: string;
    if (pick < 38) email = DELIVERABLE[i % DELIVERABLE.length]!;
    else if (pick < 42) email = UNDELIVERABLE[i % UNDELIVERABLE.length]!;
    else if (pick < 44) email = RISKY[i % RISKY.length]!;
    else if (pick < 46) email = `not-an-address-${i}`;
    else if (pick < 48) email = '';
    else email = `Person ${i} <${DELIVERABLE[i % DELIVERABLE.length]!.toUpperCase()}>`;
    lines.push(`r${i},"${email}",Name ${i}`);
  }
  // A ragged row whose email cell is no address: malformed_row.
  lines.push('ragged,oops,too,many,cells');
  await writeFile(file, `${lines.join('\n')}\n`);
  out = await runList(runtime, file, dir);
}, 120_000);
afterAll(async () => {
  await runtime?.close();
  await world?.stop();
  await deletePrefix(prefix);
});

describe('headline counts match the files', () => {
  it('counts each row once, by outcome: the counts add up to the rows of the two files, per file too', () => {
    const { report, cleaned, rejected } = out;
    const { byOutcome, byFile } = report.counts;
    expect(byOutcome).toBeDefined();
    expect(report.rows).toBe(ROWS + 1);
    expect(sum(byOutcome!)).toBe(report.rows);
    expect(report.cleanedRows + report.rejectedRows).toBe(report.rows);
    expect(cleaned.length + rejected.length).toBe(report.rows);
    expect(sum(byFile!.cleaned)).toBe(cleaned.length);
    expect(sum(byFile!.rejected)).toBe(rejected.length);
    // Line by line, what the files hold.
    expect(byFile!.cleaned).toEqual(countOutcomes(cleaned));
    expect(byFile!.rejected).toEqual(countOutcomes(rejected));
    // Most rows are duplicates; each kind of row-level answer has its own line.
    expect(byOutcome!.duplicate).toBeGreaterThan(ROWS / 2);
    expect(byOutcome!.invalid_syntax).toBe(ROWS / 25);
    expect(byOutcome!.missing_email).toBe(ROWS / 25);
    expect(byOutcome!.malformed_row).toBe(1);
  });

  it('says "deliverable" for the deliverable rows in cleaned.csv, not for their duplicates', () => {
    const { report, cleaned } = out;
    const deliverableInCleaned = cleaned.filter((r) => r.hygiene_status === 'deliverable').length;
    expect(deliverableInCleaned).toBe(DELIVERABLE.length);
    expect(report.counts.byOutcome!.deliverable).toBe(deliverableInCleaned);
    // The status split still counts the hygiene_status column (duplicates under their first's status).
    expect(report.counts.byStatus.deliverable).toBeGreaterThan(ROWS / 2);
    const summary = formatSummary(report);
    expect(summary).toMatch(new RegExp(`^deliverable +${DELIVERABLE.length} +[\\d.]+ +${DELIVERABLE.length} +0$`, 'm'));
    expect(summary).toMatch(new RegExp(`^duplicate +${report.counts.byOutcome!.duplicate} +[\\d.]+ +0 +${report.counts.byOutcome!.duplicate}$`, 'm'));
    expect(summary).toMatch(new RegExp(`^total +${report.rows} +100\\.0 +${report.cleanedRows} +${report.rejectedRows}$`, 'm'));
  });

  it('splits each top domain the same way', () => {
    const acme = out.report.topDomains?.find((d) => d.domain === 'acme.test');
    const acmeRows = [...out.cleaned, ...out.rejected].filter((r) => /@acme\.test>?$/i.test(r.email ?? ''));
    expect(acme?.rows).toBe(acmeRows.length);
    expect(sum(acme!.byOutcome!)).toBe(acme!.rows);
    expect(acme!.byOutcome!.duplicate).toBe(acmeRows.filter((r) => r.hygiene_reason === 'duplicate').length);
    expect(acme!.byOutcome!.deliverable).toBe(3);
  });
});

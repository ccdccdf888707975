/**
 * Core pipeline end to end against a real Redis, with the syntax-only verifier (no network): messy
 * CSV fixtures go through producer → BullMQ → workers → collector, and every input row must land in
 * exactly one output file, unchanged, with counts that add up.
 */
import { writeFile, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { startList } from '../../src/app/list-runner.ts';
import { isHygieneError } from '../../src/errors.ts';
import { countsProblems, deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

let runtime: HygieneRuntime;
let prefix: string;
let dir: string;

beforeAll(async () => {
  prefix = uniquePrefix('pipeline');
  runtime = await startRuntime(worldConfig(null, prefix), { verifier: 'syntax' });
  dir = await tempDir('pipeline');
});
afterAll(async () => {
  await runtime.close();
  await deletePrefix(prefix);
});

function ids(rows: Record<string, string>[]): string[] {
  return rows.map((r) => r.id ?? '').sort();
}

async function fixture(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

describe('row conservation on messy CSVs', () => {
  it('keeps every row of a BOM + CRLF export with quoted newlines, duplicates, blank and ragged rows', async () => {
    const csv =
      '\ufeffid,Full Name,E-mail Address,Notes\r\n' +
      '1,"Doe, John",john@example.com,"said ""hi"""\r\n' +
      '2,Jane,JANE@Example.COM,"line one\r\nline two"\r\n' +
      '3,Dup,john@EXAMPLE.com,\r\n' +
      '4,No Email,,missing\r\n' +
      '\r\n' +
      '6,Bad,not-an-address,\r\n' +
      '7,Ragged,ragged@example.com\r\n' +
      '8,Too,many,cells,here,x\r\n' +
      '9,Spaces,  spaced@example.com  ,\r\n';
    const out = await runList(runtime, await fixture('messy.csv', csv), path.join(dir, 'out-messy'), { emailHeader: 'E-mail Address' });
    expect(countsProblems(out.report)).toEqual([]);
    // The empty line is not a row (as in a spreadsheet or DictReader); every other id appears exactly once.
    expect(out.report.rows).toBe(8);
    expect(ids([...out.cleaned, ...out.rejected])).toEqual(['1', '2', '3', '4', '6', '7', '8', '9']);
    const byId = new Map([...out.cleaned, ...out.rejected].map((r) => [r.id, r]));
    expect(byId.get('2')?.Notes).toBe('line one\r\nline two');
    expect(byId.get('1')?.Notes).toBe('said "hi"');
    expect(byId.get('1')?.['Full Name']).toBe('Doe, John');
    expect(byId.get('3')?.hygiene_reason).toBe('duplicate');
    expect(byId.get('4')?.hygiene_reason).toBe('missing_email');
    expect(byId.get('6')?.hygiene_reason).toBe('invalid_syntax');
    expect(byId.get('8')?.hygiene_reason).toBe('malformed_row');
    expect(byId.get('7')?.hygiene_reason).toBe('not_verified');
    expect(byId.get('9')?.['E-mail Address']).toBe('  spaced@example.com  ');
    // Output keeps the input dialect: CRLF line endings and the original header first.
    const cleanedText = await readFile(out.report.outputs.cleaned, 'utf8');
    expect(cleanedText.startsWith('id,Full Name,E-mail Address,Notes,hygiene_status,hygiene_reason,hygiene_detail,hygiene_smtp_reply,hygiene_mx,hygiene_suggestion')).toBe(true);
    expect(cleanedText).toContain('\r\n');
    expect(out.report.emailColumn.name).toBe('E-mail Address');
  });

  it('detects ; and tab delimiters and writes outputs with the same delimiter', async () => {
    for (const [name, delimiter] of [['semicolon.csv', ';'], ['tabs.tsv', '\t']] as const) {
      const rows = ['id', 'name', 'email'].join(delimiter) + '\n' + [1, 2, 3].map((i) => [i, `Person ${i}`, `p${i}@example.org`].join(delimiter)).join('\n') + '\n';
      const out = await runList(runtime, await fixture(name, rows), path.join(dir, `out-${name}`));
      expect(countsProblems(out.report)).toEqual([]);
      expect(ids(out.cleaned)).toEqual(['1', '2', '3']);
      const text = await readFile(out.report.outputs.cleaned, 'utf8');
      expect(text.split('\n')[0]).toBe(['id', 'name', 'email', 'hygiene_status', 'hygiene_reason', 'hygiene_detail', 'hygiene_smtp_reply', 'hygiene_mx', 'hygiene_suggestion', 'hygiene_checked_at', 'hygiene_flags', 'hygiene_address', 'hygiene_provider'].join(delimiter));
    }
  });

  it("reads Excel's sep=; hint line as the delimiter and puts it back at the top of the outputs", async () => {
    const out = await runList(runtime, await fixture('excel-sep.csv', 'sep=;\r\nid;Name;Email\r\n1;John;john@example.com\r\n2;Jane;\r\n'), path.join(dir, 'out-sep'), { emailHeader: 'Email' });
    expect(out.report.rows).toBe(2);
    expect(out.report.dialect.delimiter).toBe(';');
    const cleaned = await readFile(out.report.outputs.cleaned, 'utf8');
    expect(cleaned.startsWith('sep=;\r\nid;Name;Email;hygiene_status')).toBe(true);
    expect(cleaned).toContain('1;John;john@example.com;unknown;not_verified');
  });

  it('handles a file without a header row (email column found by content)', async () => {
    const out = await runList(runtime, await fixture('noheader.csv', 'a,x@example.net,1\nb,y@example.net,2\nc,,3\n'), path.join(dir, 'out-noheader'));
    expect(out.report.rows).toBe(3);
    expect(out.report.cleanedRows + out.report.rejectedRows).toBe(3);
    const text = await readFile(out.report.outputs.cleaned, 'utf8');
    expect(text.startsWith('a,x@example.net,1,unknown,not_verified')).toBe(true);
  });

  it('normalises IDN domains without changing the original cell', async () => {
    const out = await runList(runtime, await fixture('idn.csv', 'id,email\n1,info@Bücher.example\n2,INFO@xn--bcher-kva.example\n'), path.join(dir, 'out-idn'));
    const byId = new Map([...out.cleaned, ...out.rejected].map((r) => [r.id, r]));
    expect(byId.get('1')?.email).toBe('info@Bücher.example');
    // Same mailbox once the domain is an A-label and case is folded: the second is a duplicate.
    expect(byId.get('2')?.hygiene_reason).toBe('duplicate');
  });

  it('routes by --reject policy and every row still lands in exactly one file', async () => {
    const file = await fixture('routing.csv', 'id,email\n1,a@example.com\n2,bad\n3,a@example.com\n4,b@example.com\n');
    const strict = await runList(runtime, file, path.join(dir, 'out-strict'), { reject: 'undeliverable,unknown' });
    expect(ids(strict.cleaned)).toEqual([]);
    expect(ids(strict.rejected)).toEqual(['1', '2', '3', '4']);
    const lenient = await runList(runtime, file, path.join(dir, 'out-lenient'), { reject: 'invalid_syntax' });
    expect(ids(lenient.cleaned)).toEqual(['1', '3', '4']);
    expect(ids(lenient.rejected)).toEqual(['2']);
  });

  it('refuses a file with no email column with a clear error and writes nothing', async () => {
    const out = path.join(dir, 'out-none');
    const file = await fixture('nocolumn.csv', 'name,phone\nJohn,123\nJane,456\n');
    const error = await startList(runtime, { input: file, outDir: out, options: { reject: 'undeliverable', neutraliseFormulas: true } }).catch((e: unknown) => e);
    expect(isHygieneError(error, 'NO_EMAIL_COLUMN')).toBe(true);
    expect((error as Error).message).toMatch(/--email-column/);
    await expect(readdir(out)).rejects.toThrow();
  });

  it('honours --email-column by name when several columns hold addresses', async () => {
    const file = await fixture('twocols.csv', 'id,email,backup\n1,main@example.com,other@example.com\n');
    const out = await runList(runtime, file, path.join(dir, 'out-twocols'), { emailColumn: 'backup' });
    expect(out.report.emailColumn.name).toBe('backup');
  });

  it('a header-only file gives two header-only outputs and a zero report', async () => {
    const out = await runList(runtime, await fixture('headeronly.csv', 'id,email\n'), path.join(dir, 'out-headeronly'));
    expect(out.report.rows).toBe(0);
    expect(await readFile(out.report.outputs.rejected, 'utf8')).toMatch(/^id,email,hygiene_status/);
  });
});

afterEach(() => undefined);

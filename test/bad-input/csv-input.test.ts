/**
 * Hostile and broken CSV input through the real CLI (`node dist/cli/bin.js verify FILE --out DIR`
 * as a child process, against the simulated world on loopback):
 * formula cells neutralised (and kept with --no-formula-guard), Windows-1252 exports decoded,
 * a 50 MB single line, binary and empty files refused with one clear stderr line and nothing
 * written, a header-only file, and email cells carrying CR/LF, `>` or SMTP verbs that must never
 * reach the wire.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListReport } from '../../src/collector/report.ts';
import { startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import type { TranscriptEvent } from '../../src/world/sim-mta.ts';
import { clearPrefix, csvCell, expectCountsAddUp, expectEveryRowOnce, readOutputs, removeDir, runCli, tempDir, uniquePrefix } from '../faults/fault-helpers.ts';
import { twoDomainWorld, worldEnv } from '../faults/world-fixtures.ts';

describe('bad CSV input through the CLI', () => {
  let world: MailWorld;
  let dir: string;
  let prefix: string;
  let env: Record<string, string>;
  const transcript: TranscriptEvent[] = [];

  beforeAll(async () => {
    world = await startMailWorld(twoDomainWorld(), { onTranscript: (e) => transcript.push(e) });
    dir = await tempDir('bad-csv');
    prefix = uniquePrefix('bad-csv');
    env = worldEnv(world.dnsServers, world.smtpPort, prefix);
  });

  afterAll(async () => {
    await world.stop();
    await clearPrefix(prefix);
    await removeDir(dir);
  });

  async function verify(file: string, extra: string[] = []) {
    const outDir = path.join(dir, `out-${path.basename(file)}-${extra.join('')}`);
    const run = runCli(['verify', file, '--out', outDir, '--json', ...extra], env);
    const exit = await run.exit;
    return { code: exit.code, stdout: run.stdout(), stderr: run.stderr(), outDir };
  }

  async function writeRows(name: string, rows: Array<[string, string, string]>, eol = '\n'): Promise<{ file: string; ids: string[] }> {
    const file = path.join(dir, name);
    await writeFile(file, ['id,email,note', ...rows.map((r) => r.map(csvCell).join(','))].join(eol) + eol);
    return { file, ids: rows.map((r) => r[0]) };
  }

  const FORMULA_ROWS: Array<[string, string, string]> = [
    ['f1', 'ok0@alpha.test', '=HYPERLINK("http://evil.test","click")'],
    ['f2', 'ok1@beta.test', '+cmd|\' /C calc\'!A0'],
    ['f3', 'ok4@alpha.test', '-2+3+cmd|\' /C calc\'!A0'],
    ['f4', 'ok5@beta.test', '@SUM(1+1)*cmd|\' /C calc\'!A0'],
    ['f5', 'ok8@alpha.test', '\t=1+1'],
    ['f6', 'ok9@beta.test', '\r=1+1'],
    ['f7', '=no12@alpha.test', 'formula in the email cell'],
    ['f8', 'ok13@beta.test', '+44 20 7946 0958'],
    ['f9', 'ok16@alpha.test', '-42.5'],
  ];

  it('neutralises formula cells by default (original and appended cells) and keeps them with --no-formula-guard', async () => {
    const { file, ids } = await writeRows('formulas.csv', FORMULA_ROWS);
    const guarded = await verify(file);
    expect(guarded.code, guarded.stderr).toBe(0);
    const report = JSON.parse(guarded.stdout) as ListReport;
    const outputs = await expectEveryRowOnce(report, ids);
    const byId = new Map([...outputs.cleaned, ...outputs.rejected].map((r) => [r.id, r]));
    for (const [id, email, note] of FORMULA_ROWS) {
      const row = byId.get(id)!;
      if (id === 'f8' || id === 'f9') {
        expect(row.note).toBe(note); // phone numbers and negative amounts are harmless: untouched
      } else {
        expect(row.note, id).toBe(id === 'f7' ? note : `'${note}`);
      }
      expect(row.email).toBe(email.startsWith('=') ? `'${email}` : email);
    }
    // '=' is legal in a local part (RFC 5322 atext): probed as usual, but written back neutralised.
    expect(byId.get('f7')?.hygiene_reason).toBe('mailbox_not_found');
    // No cell of either output starts with a trigger character.
    for (const row of [...outputs.cleaned, ...outputs.rejected]) {
      for (const cell of Object.values(row)) expect(cell, JSON.stringify(row)).not.toMatch(/^[=@\t\r]|^[+-](?![0-9 .,()/-]*$)/);
    }

    const raw = await verify(file, ['--no-formula-guard']);
    expect(raw.code, raw.stderr).toBe(0);
    const rawOutputs = await expectEveryRowOnce(JSON.parse(raw.stdout) as ListReport, ids);
    const rawById = new Map([...rawOutputs.cleaned, ...rawOutputs.rejected].map((r) => [r.id, r]));
    for (const [id, , note] of FORMULA_ROWS) expect(rawById.get(id)?.note, id).toBe(note);
  });

  it('detects and decodes a Windows-1252 (Latin-1) export', async () => {
    const file = path.join(dir, 'latin1.csv');
    const text = 'id;email;name\r\nw1;ok0@alpha.test;José Müller\r\nw2;no2@alpha.test;Françoise Œuvre €\r\nw3;ok1@beta.test;Ærøskøbing\r\n';
    // Windows-1252: Œ = 0x8C, € = 0x80; the rest are Latin-1 code points.
    const bytes = Buffer.from([...text].map((ch) => (ch === 'Œ' ? 0x8c : ch === '€' ? 0x80 : ch.charCodeAt(0))));
    await writeFile(file, bytes);
    const result = await verify(file);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as ListReport;
    expect(report.dialect.encoding).toBe('windows-1252');
    const cleaned = await readFile(report.outputs.cleaned, 'utf8');
    expect(cleaned).toContain('José Müller');
    expect(cleaned).toContain('Ærøskøbing');
    expect(await readFile(report.outputs.rejected, 'utf8')).toContain('Françoise Œuvre €');
    expect(cleaned).toContain(';'); // the input's delimiter is kept
    const outputs = await readOutputs(report);
    expect(outputs.cleaned.length + outputs.rejected.length).toBe(3);
    expectCountsAddUp(report, 3);
  });

  it('a 50 MB single line becomes one malformed_row in rejected; the other rows are verified', async () => {
    const file = path.join(dir, 'huge-line.csv');
    const huge = 'x'.repeat(50 * 1024 * 1024);
    await writeFile(file, `id,email,note\nh1,ok0@alpha.test,before\nh2,ok2@alpha.test,${huge}\nh3,ok1@beta.test,after\n`);
    const result = await verify(file);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as ListReport;
    expectCountsAddUp(report, 3);
    expect(report.counts.byReason.malformed_row).toBe(1);
    const outputs = await readOutputs(report);
    expect(outputs.cleaned.map((r) => r.id).sort()).toEqual(['h1', 'h3']);
    expect(outputs.rejected).toHaveLength(1);
    // The malformed record keeps the start of its raw text in its first cell: it is findable.
    expect(outputs.rejected[0]?.id).toMatch(/^h2,ok2@alpha\.test,x+/);
    expect(outputs.rejected[0]?.hygiene_reason).toBe('malformed_row');
    expect((await readFile(report.outputs.rejected)).length).toBeLessThan(2 * 1024 * 1024);
  });

  it.each([
    ['binary.bin', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), Buffer.alloc(2000, 7)]), /not a text CSV file|looks binary/],
    ['report.xlsx', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from('[Content_Types].xml xl/workbook.xml')]), /Excel workbook/],
    ['empty.csv', Buffer.alloc(0), /is empty/],
    ['blank.csv', Buffer.from('\n\n   \r\n'), /no content|blank/],
  ])('refuses %s with exit 1, one clear stderr line and nothing written', async (name, content, message) => {
    const file = path.join(dir, name);
    await writeFile(file, content);
    const result = await verify(file);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^hygiene: /);
    expect(lines[0]).toMatch(message);
    expect(result.stdout).toBe('');
    const written = await readdir(result.outDir).catch(() => [] as string[]);
    expect(written).toEqual([]);
  });

  it('a header-only file gives a complete, empty result (0 rows, headers kept)', async () => {
    const file = path.join(dir, 'header-only.csv');
    await writeFile(file, 'id,email,note\r\n');
    const result = await verify(file);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as ListReport;
    expectCountsAddUp(report, 0);
    const cleaned = await readFile(report.outputs.cleaned, 'utf8');
    expect(cleaned.split(/\r?\n/)[0]).toMatch(/^id,email,note,hygiene_status,hygiene_reason/);
  });

  it('email cells with CR/LF, ">" or SMTP verbs are invalid_syntax and never reach the wire', async () => {
    const hostile: Array<[string, string, string]> = [
      ['i1', 'ok0@alpha.test\r\nDATA', 'crlf + DATA'],
      ['i2', 'ok2@alpha.test>\r\nRCPT TO:<victim@alpha.test>', 'closes the bracket'],
      ['i3', 'ok4@alpha.test\nQUIT', 'bare LF'],
      ['i4', 'ok6@alpha.test\rMAIL FROM:<x@evil.test>', 'bare CR'],
      ['i5', 'ok8@alpha.test> DATA', 'space + verb'],
      ['i6', '<ok10@alpha.test> NOTIFY=NEVER', 'ESMTP parameter'],
      ['i7', 'ok12@alpha.test%0d%0aDATA', 'encoded CRLF in the domain'],
      ['i8', 'ok14@alpha.test', 'a clean row'],
      ['i9', 'ok1@beta.test', 'another clean row'],
    ];
    transcript.length = 0;
    const { file, ids } = await writeRows('injection.csv', hostile, '\r\n');
    const result = await verify(file);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as ListReport;
    const outputs = await expectEveryRowOnce(report, ids);
    const byId = new Map([...outputs.cleaned, ...outputs.rejected].map((r) => [r.id, r]));
    for (const id of ['i1', 'i2', 'i3', 'i4', 'i5', 'i6', 'i7']) {
      expect(`${byId.get(id)?.hygiene_status}/${byId.get(id)?.hygiene_reason}`, id).toBe('undeliverable/invalid_syntax');
      expect(outputs.rejected.map((r) => r.id)).toContain(id);
    }
    // The email cell is written back unchanged (quoted), so the user can see what was wrong.
    expect(byId.get('i1')?.email).toBe('ok0@alpha.test\r\nDATA');
    expect(byId.get('i8')?.hygiene_status).toBe('deliverable');

    const clientLines = transcript.filter((e) => e.direction === 'C').map((e) => e.line);
    expect(clientLines.length).toBeGreaterThan(0);
    for (const line of clientLines) {
      expect(line).toMatch(/^((EHLO|HELO) [a-z0-9.-]+|MAIL FROM:<[^<>\s]*>( SMTPUTF8)?|RCPT TO:<[^<>\s]+>|RSET|QUIT|NOOP|STARTTLS)$/);
      expect(line).not.toMatch(/DATA|victim|evil|NOTIFY/i);
    }
    const rcpts = clientLines.filter((l) => l.startsWith('RCPT')).map((l) => l.slice('RCPT TO:<'.length, -1));
    // Only the clean rows were probed (ok1@beta.test may come from the verdict cache instead).
    expect(rcpts).toContain('ok14@alpha.test');
    for (const address of rcpts) expect(['ok14@alpha.test', 'ok1@beta.test']).toContain(address);
    for (const s of Object.values(world.stats())) expect(s.dataSeen).toBe(0);
  });
});

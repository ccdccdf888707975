import { mkdtemp, rm, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCsvRows, readCsvSample, type CsvRow } from '../../src/csv/csv-row-stream.ts';
import { findEmailColumn } from '../../src/csv/email-column.ts';
import { sniffInput, sniffSample, detectDelimiter } from '../../src/csv/input-sniffer.ts';
import { CsvRecordSplitter } from '../../src/csv/record-splitter.ts';
import { isHygieneError } from '../../src/errors.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'list-hygiene-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function readAll(path: string, hasHeader = true, maxRecordBytes?: number) {
  const sniffed = await sniffInput(path);
  const rows = await openCsvRows(path, { sniffed, hasHeader, ...(maxRecordBytes ? { maxRecordBytes } : {}) });
  const out: CsvRow[] = [];
  for await (const row of rows) out.push(row);
  return { sniffed, header: rows.header, rows: out };
}

async function expectError(promise: Promise<unknown>, code: Parameters<typeof isHygieneError>[1], message?: RegExp) {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(isHygieneError(err, code), String(err)).toBe(true);
  if (message) expect((err as Error).message).toMatch(message);
}

describe('input sniffer', () => {
  it('refuses an empty file and a blank one', async () => {
    await expectError(sniffInput(await file('empty.csv', '')), 'INPUT_EMPTY');
    await expectError(sniffInput(await file('blank.csv', '\n \r\n')), 'INPUT_EMPTY');
  });
  it('refuses a missing file', async () => {
    await expectError(sniffInput(join(dir, 'nope.csv')), 'INPUT_NOT_FOUND');
    await expectError(sniffInput(dir), 'INPUT_UNREADABLE');
  });
  it('refuses binary files and says what to do with Excel', async () => {
    const xlsx = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(26), Buffer.from('[Content_Types].xml xl/workbook.xml')]);
    await expectError(sniffInput(await file('book.xlsx', xlsx)), 'INPUT_BINARY', /Excel.*CSV/);
    await expectError(sniffInput(await file('a.zip', Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]))), 'INPUT_BINARY', /Excel\/zip/);
    await expectError(sniffInput(await file('a.gz', Buffer.from([0x1f, 0x8b, 8, 0, 0]))), 'INPUT_BINARY', /gzip/);
    await expectError(sniffInput(await file('a.xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0]))), 'INPUT_BINARY', /xls/);
    await expectError(sniffInput(await file('nul.bin', Buffer.from('email\nab\u0000\u0001\u0002c@x.com\n'))), 'INPUT_BINARY', /NUL/);
    const noisy = Buffer.from(Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? 0x01 : 0x41)));
    await expectError(sniffInput(await file('noise.bin', noisy)), 'INPUT_BINARY', /binary/);
  });
  it('detects encodings', () => {
    expect(sniffSample(Buffer.from('\ufeffemail\na@b.com\n'))).toMatchObject({ encoding: 'utf-8', bom: true });
    expect(sniffSample(Buffer.from('email\nmüller@b.com\n'))).toMatchObject({ encoding: 'utf-8', bom: false });
    expect(sniffSample(Buffer.from('email,name\na@b.com,M\xfcller\n', 'latin1'))).toMatchObject({ encoding: 'windows-1252' });
    expect(sniffSample(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email\na@b.com\n', 'utf16le')]))).toMatchObject({ encoding: 'utf-16le', bom: true });
    const be = Buffer.from('email\na@b.com\n', 'utf16le').swap16();
    expect(sniffSample(Buffer.concat([Buffer.from([0xfe, 0xff]), be]))).toMatchObject({ encoding: 'utf-16be', bom: true });
    expect(sniffSample(Buffer.from('email\na@b.com\n', 'utf16le'))).toMatchObject({ encoding: 'utf-16le', bom: false });
  });
  it('detects delimiters, honouring quotes', () => {
    expect(detectDelimiter('email,name\na@b.com,Ann\nc@d.com,Bob\n')).toBe(',');
    expect(detectDelimiter('email;name;amount\na@b.com;Müller;12,5\nc@d.com;"Doe; Jane";3,25\n')).toBe(';');
    expect(detectDelimiter('email\tname\na@b.com\tAnn, Jr\nc@d.com\tBob\n')).toBe('\t');
    expect(detectDelimiter('email|name\na@b.com|Ann\n')).toBe('|');
    expect(detectDelimiter('name,email\n"Doe, John\nsecond line",a@b.com\n"x;y;z",c@d.com\n')).toBe(',');
    expect(detectDelimiter('email\na@b.com\n')).toBe(',');
  });
  it('detects the line ending', () => {
    expect(sniffSample(Buffer.from('a,b\r\n1,2\r\n')).lineEnding).toBe('\r\n');
    expect(sniffSample(Buffer.from('"x\r\ny",b\n1,2\n')).lineEnding).toBe('\n');
  });
});

describe('record splitter', () => {
  it('gives the same records whatever the chunking', () => {
    const text = 'h1,h2\r\n"a\r\nb",c\r\n\r\n"x""y",z\r"open,1\n2,3\n4,"q"\nlast';
    const whole = new CsvRecordSplitter(',', 1000);
    const expected = [...whole.push(text), ...whole.end()];
    for (const size of [1, 2, 3, 7]) {
      const s = new CsvRecordSplitter(',', 1000);
      const got = [];
      for (let i = 0; i < text.length; i += size) got.push(...s.push(text.slice(i, i + size)));
      got.push(...s.end());
      expect(got).toEqual(expected);
    }
    expect(expected.map((r) => [r.kind, r.line])).toEqual([
      ['record', 1], ['record', 2], ['record', 4], ['record', 5], ['malformed', 6], ['record', 7], ['record', 8], ['record', 9],
    ]);
  });

  it('the one-line shortcut changes nothing: same records as the character loop, on random text and chunkings', () => {
    let seed = 2024;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['a', 'b', ',', ',', ';', '"', '"', '"', '\r', '\n', '\n', '\n', ' ', ' ', 'é', '€'];
    const split = (text: string, size: number, maxBytes: number, plainLineShortcut: boolean) => {
      const splitter = new CsvRecordSplitter(',', maxBytes, { plainLineShortcut });
      const out = [];
      for (let i = 0; i < text.length; i += size) out.push(...splitter.push(text.slice(i, i + size)));
      out.push(...splitter.end());
      return out;
    };
    for (let n = 0; n < 3_000; n++) {
      let text = '';
      const length = Math.floor(random() * 60);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const size = 1 + Math.floor(random() * 20);
      // Small caps too, so records near and over the size limit are covered.
      const maxBytes = random() < 0.3 ? 4 + Math.floor(random() * 20) : 1000;
      expect(split(text, size, maxBytes, true), JSON.stringify([text, size, maxBytes])).toEqual(split(text, size, maxBytes, false));
    }
  });
});

describe('csv row stream', () => {
  it('reads UTF-8 with BOM, CRLF, quoted newlines, commas and quotes', async () => {
    const path = await file('bom.csv', '\ufeffEmail,Name,Note\r\n"a@b.com","Doe, John","said ""hi"""\r\nc@d.com,Ann,"two\r\nlines"\r\n');
    const { sniffed, header, rows } = await readAll(path);
    expect(sniffed).toEqual({ encoding: 'utf-8', bom: true, delimiter: ',', lineEnding: '\r\n' });
    expect(header).toEqual(['Email', 'Name', 'Note']);
    expect(rows.map((r) => [r.index, r.line, r.cells])).toEqual([
      [0, 2, ['a@b.com', 'Doe, John', 'said "hi"']],
      [1, 3, ['c@d.com', 'Ann', 'two\r\nlines']],
    ]);
  });
  it('reads ; and tab delimited files', async () => {
    const semi = await readAll(await file('semi.csv', 'email;name;amount\na@b.com;Müller;12,5\n'));
    expect(semi.rows[0]?.cells).toEqual(['a@b.com', 'Müller', '12,5']);
    const tab = await readAll(await file('tab.tsv', 'email\tname\na@b.com\tAnn, Jr\n'));
    expect(tab.rows[0]?.cells).toEqual(['a@b.com', 'Ann, Jr']);
  });
  it('decodes Windows-1252', async () => {
    const path = await file('cp1252.csv', Buffer.from('email,name,city\nm@x.de,M\xfcller,Caf\xe9 \x80\n', 'latin1'));
    const { sniffed, rows } = await readAll(path);
    expect(sniffed.encoding).toBe('windows-1252');
    expect(rows[0]?.cells).toEqual(['m@x.de', 'Müller', 'Café €']);
  });
  it('decodes UTF-16LE with BOM', async () => {
    const path = await file('utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email,name\r\nm@x.de,Müller\r\n', 'utf16le')]));
    const { header, rows } = await readAll(path);
    expect(header).toEqual(['email', 'name']);
    expect(rows[0]?.cells).toEqual(['m@x.de', 'Müller']);
  });
  it('keeps blank lines, ragged rows and duplicates, each with its own index', async () => {
    const path = await file('messy.csv', 'email,name\na@b.com,Ann\n\na@b.com,Ann\nc@d.com\ne@f.com,Eve,extra\n');
    const { rows } = await readAll(path);
    expect(rows.map((r) => [r.index, r.blank, r.cells])).toEqual([
      [0, false, ['a@b.com', 'Ann']],
      [1, true, []],
      [2, false, ['a@b.com', 'Ann']],
      [3, false, ['c@d.com']],
      [4, false, ['e@f.com', 'Eve', 'extra']],
    ]);
  });
  it('reads a header-only file as zero rows', async () => {
    const { header, rows } = await readAll(await file('header-only.csv', 'email,name\n'));
    expect(header).toEqual(['email', 'name']);
    expect(rows).toEqual([]);
  });
  it('reports an unterminated quote as one malformed row and keeps going', async () => {
    const path = await file('quote.csv', 'email,name\na@b.com,"Doe, John\nc@d.com,"Roe, Jane"\ne@f.com,Eve\n');
    const { rows } = await readAll(path);
    expect(rows.map((r) => [r.index, r.line, r.problem?.code, r.cells])).toEqual([
      [0, 2, 'unterminated_quote', []],
      [1, 3, undefined, ['c@d.com', 'Roe, Jane']],
      [2, 4, undefined, ['e@f.com', 'Eve']],
    ]);
    expect(rows[0]?.problem?.raw).toBe('a@b.com,"Doe, John');
  });
  it('numbers rows identically on a second pass', async () => {
    const path = await file('twice.csv', 'email\na@b.com\n\n"x\ny"\n"bad\nc@d.com\n');
    const first = (await readAll(path)).rows.map((r) => [r.index, r.cells, r.problem?.code]);
    const second = (await readAll(path)).rows.map((r) => [r.index, r.cells, r.problem?.code]);
    expect(second).toEqual(first);
  });
  it('skips a 50 MB single line with a clear problem, without running out of memory', async () => {
    const path = join(dir, 'huge.csv');
    const handle = await open(path, 'w');
    await handle.write('email,name\na@b.com,Ann\nc@d.com,');
    const block = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 50; i++) await handle.write(block);
    await handle.write('\ne@f.com,Eve\n');
    await handle.close();
    const before = process.memoryUsage().rss;
    const { rows } = await readAll(path);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    expect(rows.map((r) => [r.index, r.problem?.code, r.cells])).toEqual([
      [0, undefined, ['a@b.com', 'Ann']],
      [1, 'record_too_large', []],
      [2, undefined, ['e@f.com', 'Eve']],
    ]);
    expect(rows[1]?.problem?.detail).toMatch(/limit of 1048576 bytes/);
    expect(rows[1]?.problem?.raw.length).toBeLessThanOrEqual(200);
  });
  it('reads files without a header', async () => {
    const path = await file('noheader.csv', 'a@b.com,Ann\nc@d.com,Bob\n');
    const sniffed = await sniffInput(path);
    const sample = await readCsvSample(path, sniffed);
    const [first, ...rest] = sample.map((r) => r.cells);
    const column = findEmailColumn(first ?? [], rest);
    expect(column).toMatchObject({ index: 0, name: 'column_1', by: 'content', hasHeader: false, columnNames: ['column_1', 'column_2'] });
    const { header, rows } = await readAll(path, column.hasHeader);
    expect(header).toBeNull();
    expect(rows.map((r) => [r.index, r.cells[0]])).toEqual([[0, 'a@b.com'], [1, 'c@d.com']]);
  });
});

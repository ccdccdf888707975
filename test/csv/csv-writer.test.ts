import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCsvRows } from '../../src/csv/csv-row-stream.ts';
import { createCsvWriter } from '../../src/csv/csv-writer.ts';
import { findEmailColumn } from '../../src/csv/email-column.ts';
import { isFormulaLike, neutraliseFormula } from '../../src/csv/formula-guard.ts';
import { sniffInput } from '../../src/csv/input-sniffer.ts';
import { isHygieneError } from '../../src/errors.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'list-hygiene-csvw-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('formula guard', () => {
  it.each(['=1+2', '=HYPERLINK("http://evil","x")', '+cmd|\' /C calc\'!A0', '-2+3+cmd|x', '@SUM(A1)', '\tx', '\rx', '＝1+1', '+', '-x', '-=1'])(
    'neutralises %j',
    (cell) => {
      expect(isFormulaLike(cell)).toBe(true);
      expect(neutraliseFormula(cell)).toBe(`'${cell}`);
    },
  );
  it.each(['-5', '-3.5', '+44 20 7946 0958', '+1 (555) 123-4567', '-1,234.50', 'plain', '', 'a=b', "'=already", '-', '---'])('leaves %j alone', (cell) => {
    expect(neutraliseFormula(cell)).toBe(cell);
  });
  it('matches the rule as written (triggers minus signed numbers and dashes) on random cells', () => {
    const TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r', '\uff1d', '\uff0b', '\uff0d', '\uff20']);
    const rule = (cell: string) => cell !== '' && TRIGGERS.has(cell[0]!) && !/^[+-][0-9 .,()/-]*[0-9][0-9 .,()/-]*$/.test(cell) && !/^-+$/.test(cell);
    let seed = 99;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = '+-=@\t\r\uff0b09 .,()/ax';
    for (let n = 0; n < 20_000; n++) {
      let cell = '';
      const length = Math.floor(random() * 8);
      for (let i = 0; i < length; i++) cell += alphabet[Math.floor(random() * alphabet.length)];
      expect(isFormulaLike(cell), JSON.stringify(cell)).toBe(rule(cell));
    }
  });
});

describe('findEmailColumn', () => {
  const rows = [['Ann', 'a@b.com', 'x@y.com'], ['Bob', 'c@d.com', '']];
  it.each([
    [['Name', 'E-mail Address', 'Other'], 1],
    [['name', ' EMAIL ', 'x'], 1],
    [['Name', 'email_address', 'x'], 1],
    [['Name', 'Courriel', 'x'], 1],
    [['Name', 'Correo electrónico', 'x'], 1],
    [['Name', 'E-Mail-Adresse', 'x'], 1],
    [['Name', 'Work Email', 'Email 2'], 1],
    [['Name', 'Email 2', 'Email'], 2],
    [['Name', 'Secondary Email', 'Primary Email'], 2],
  ])('finds it by header in %j', (header, index) => {
    expect(findEmailColumn(header, rows)).toMatchObject({ index, by: 'header', hasHeader: true, name: header[index] });
  });
  it('finds it by content and keeps the header', () => {
    expect(findEmailColumn(['Name', 'Contact', 'Other'], rows)).toMatchObject({ index: 1, by: 'content', name: 'Contact', hasHeader: true });
  });
  it('treats a first row with an address as data', () => {
    expect(findEmailColumn(['Zed', 'z@z.com', ''], rows)).toMatchObject({ index: 1, by: 'content', name: 'column_2', hasHeader: false });
  });
  it('honours an override by name or 1-based number', () => {
    expect(findEmailColumn(['Name', 'Contact', 'Other'], rows, 'other')).toMatchObject({ index: 2, by: 'override', name: 'Other' });
    expect(findEmailColumn(['Name', 'Contact', 'Other'], rows, '3')).toMatchObject({ index: 2, by: 'override' });
  });
  it('explains what to do when there is no email column', () => {
    let err: unknown;
    try {
      findEmailColumn(['Name', 'Phone'], [['Ann', '123'], ['Bob', '456']]);
    } catch (e) {
      err = e;
    }
    expect(isHygieneError(err, 'NO_EMAIL_COLUMN')).toBe(true);
    expect((err as Error).message).toMatch(/"Name", "Phone".*--email-column/);
  });
  it('reports an override that matches nothing', () => {
    expect(() => findEmailColumn(['Name', 'Email'], rows, 'mail address 7')).toThrow(/not found/);
    expect(() => findEmailColumn(['Name', 'Email'], rows, '9')).toThrow(expect.objectContaining({ code: 'EMAIL_COLUMN_NOT_FOUND' }));
  });
});

async function collect(stream: PassThrough): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((resolve) => stream.on('end', resolve));
  return Buffer.concat(chunks).toString('utf8');
}

describe('csv writer', () => {
  it('writes original cells unchanged, quoting as needed, and neutralises appended cells', async () => {
    const out = new PassThrough();
    const text = collect(out);
    const writer = createCsvWriter(out, { delimiter: ';', lineEnding: '\r\n', header: ['email', 'note'], appendedHeader: ['status', 'detail'], neutraliseFormulas: false });
    await writer.writeRow(['a@b.com', 'x;y "q"'], ['ok', '=cmd()']);
    await writer.writeRow(['c@d.com'], ['bad', 'two\nlines']);
    await writer.writeRow(['=1+1', '-5'], ['ok', '-5']);
    await writer.end();
    expect(await text).toBe(
      'email;note;status;detail\r\na@b.com;"x;y ""q""";ok;\'=cmd()\r\nc@d.com;;bad;"two\nlines"\r\n=1+1;-5;ok;-5\r\n',
    );
  });
  it('neutralises original cells by default, header included', async () => {
    const out = new PassThrough();
    const text = collect(out);
    const writer = createCsvWriter(out, { delimiter: ',', lineEnding: '\n', header: ['=evil', 'phone'] });
    await writer.writeRow(['@SUM(A1)', '+44 20 7946 0958']);
    await writer.end();
    expect(await text).toBe("'=evil,phone\n'@SUM(A1),+44 20 7946 0958\n");
  });
  it('writes no header row when the input had none', async () => {
    const out = new PassThrough();
    const text = collect(out);
    const writer = createCsvWriter(out, { delimiter: ',', lineEnding: '\n', header: null, appendedHeader: ['status'], columnCount: 2 });
    await writer.writeRow(['a@b.com'], ['ok']);
    await writer.end();
    expect(await text).toBe('a@b.com,,ok\n');
  });
  it('waits for drain on a slow output', async () => {
    let written = 0;
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        setTimeout(cb, 1);
      },
    });
    const writer = createCsvWriter(slow, { delimiter: ',', lineEnding: '\n', header: ['email'] });
    for (let i = 0; i < 200; i++) await writer.writeRow([`user${i}@example.com`]);
    await writer.end();
    expect(written).toBeGreaterThan(200 * 17);
  });
  it('rejects when the output fails', async () => {
    const broken = new Writable({ write: (_c, _e, cb) => cb(new Error('disk full')) });
    const writer = createCsvWriter(broken, { delimiter: ',', lineEnding: '\n', header: ['email'] });
    await expect((async () => {
      for (let i = 0; i < 100; i++) await writer.writeRow(['a@b.com']);
      await writer.end();
    })()).rejects.toThrow(/disk full/);
  });
  it('round-trips a messy file cell for cell', async () => {
    const input = join(dir, 'in.csv');
    await writeFile(input, '\ufeffEmail;Name;Note\r\n"a@b.com";"Doe; John";"said ""hi"""\r\nc@d.com;Ann;"two\r\nlines"\r\n\r\ne@f.com;=1+1\r\n g@h.com ;"";x\r\n');
    const sniffed = await sniffInput(input);
    const read = async (path: string) => {
      const rows = await openCsvRows(path, { sniffed: await sniffInput(path) });
      const cells: string[][] = [];
      for await (const row of rows) cells.push(row.cells);
      return { header: rows.header, cells };
    };
    const original = await read(input);
    const output = join(dir, 'out.csv');
    const writer = createCsvWriter(createWriteStream(output), { delimiter: sniffed.delimiter, lineEnding: sniffed.lineEnding, header: original.header, neutraliseFormulas: false });
    for (const row of original.cells) await writer.writeRow(row);
    await writer.end();
    expect(await read(output)).toEqual(original);
    expect((await readFile(output, 'utf8')).split('\r\n')[0]).toBe('Email;Name;Note');
  });
});

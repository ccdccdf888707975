/**
 * The CSV writer formats cells itself (speed) but must write exactly what csv-stringify 6 writes
 * with the same options: random cells full of quotes, delimiters, CR/LF and formula triggers.
 */
import { PassThrough } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { createCsvWriter } from '../../src/csv/csv-writer.ts';

const ALPHABET = ['a', 'b', ' ', '"', ',', ';', '\t', '|', '\r', '\n', '=', '+', '-', '@', '1', 'é', '\uff1d', "'"];

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

async function written(rows: string[][], delimiter: string, lineEnding: '\n' | '\r\n', header: string[] | null): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const writer = createCsvWriter(out, { delimiter, lineEnding, header, neutraliseFormulas: false });
  for (const row of rows) await writer.writeRow(row);
  await writer.end();
  return Buffer.concat(chunks).toString('utf8');
}

describe('csv writer matches csv-stringify', () => {
  for (const delimiter of [',', ';', '\t', '|']) {
    for (const lineEnding of ['\n', '\r\n'] as const) {
      it(`delimiter ${JSON.stringify(delimiter)}, line ending ${JSON.stringify(lineEnding)}`, async () => {
        const random = seeded(delimiter.charCodeAt(0) * 7 + lineEnding.length);
        const cell = () => Array.from({ length: Math.floor(random() * 6) }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]!).join('');
        // Enough rows to cross the writer's chunk size several times.
        const rows = Array.from({ length: 20_000 }, () => Array.from({ length: 1 + Math.floor(random() * 5) }, cell));
        const header = ['email', 'note', '"quoted"'];
        const expected = stringify([header, ...rows], { delimiter, record_delimiter: lineEnding, quote_record_delimiter: true, eof: true });
        expect(await written(rows, delimiter, lineEnding, header)).toBe(expected);
      });
    }
  }
});

import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { splitWellFormedRecord } from '../../src/csv/csv-row-stream.ts';
import { seededRandom } from '../../src/world/world-generator.ts';

const csvParse = (text: string, delimiter: string) =>
  parse(text, { delimiter, bom: false, relax_quotes: true, relax_column_count: true, skip_empty_lines: false }) as string[][];

describe('splitWellFormedRecord (fast path before csv-parse)', () => {
  it('splits plain and quoted cells like csv-parse', () => {
    expect(splitWellFormedRecord('a,b,,c,', ',')).toEqual(['a', 'b', '', 'c', '']);
    expect(splitWellFormedRecord('1,"New York, NY","say ""hi""","line\r\nbreak"', ',')).toEqual(['1', 'New York, NY', 'say "hi"', 'line\r\nbreak']);
    expect(splitWellFormedRecord('""', ',')).toEqual(['']);
    expect(splitWellFormedRecord('x;"a;b"', ';')).toEqual(['x', 'a;b']);
  });

  it('leaves everything unusual to csv-parse', () => {
    for (const text of ['a"b,c', '"a"b,c', '"unterminated', 'a\rb', 'a\nb', '"a" ,b']) expect(splitWellFormedRecord(text, ',')).toBeNull();
    expect(splitWellFormedRecord('a,b', '"')).toBeNull();
  });

  it('agrees with csv-parse on every record it accepts (random records)', () => {
    const random = seededRandom(1);
    const alphabet = ['a', 'é', ',', ';', '\t', '"', '""', ' ', '\r\n', '\n', '\r'];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = '';
      for (let j = 1 + Math.floor(random() * 12); j > 0; j--) text += alphabet[Math.floor(random() * alphabet.length)];
      for (const delimiter of [',', ';', '\t']) {
        const fast = splitWellFormedRecord(text, delimiter);
        if (fast === null) continue;
        accepted++;
        expect(csvParse(text, delimiter), JSON.stringify({ text, delimiter })).toEqual([fast]);
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});

import { describe, expect, it } from 'vitest';
import { splitWellFormedRecord } from '../../src/csv/csv-row-stream.ts';
import { isFormulaLike } from '../../src/csv/formula-guard.ts';
import { viewRecord } from '../../src/csv/record-view.ts';

/** What viewRecord must answer: splitWellFormedRecord's cells, summarised. */
function expected(text: string, delimiter: string, column: number) {
  const cells = splitWellFormedRecord(text, delimiter);
  if (cells === null) return null;
  return { cellCount: cells.length, cell: cells[column], formula: cells.some(isFormulaLike) };
}

describe('viewRecord', () => {
  it.each([
    ['1,a@x.com,Anna', 1],
    ['1,"a@x.com",Anna', 1],
    ['1,"Meyer, Anna","a@x.com"', 2],
    ['"say ""hi""",a@x.com', 0],
    ['a,', 1],
    [',', 0],
    ['a,b,c', 5],
    ['a,+49 30 123,c', 1],
    ['a,=1+2,c', 0],
    ['a,"=1+2",c', 0],
    ['a,"""=1",c', 0],
    ['a,-,c', 0],
    ['a,"x"y,c', 0],
    ['a,x"y,c', 0],
    ['a,"x\ny",c', 2],
    ['a,"unterminated', 0],
  ])('agrees with splitWellFormedRecord on %j', (text, column) => {
    const want = expected(text, ',', column);
    const got = viewRecord(text, ',', column, true);
    expect(got).toEqual(want);
  });

  it('agrees with splitWellFormedRecord on random records, with and without the formula check', () => {
    let seed = 4242;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = 'ab;,,,""" =+-@\t\r\n9';
    for (let n = 0; n < 30_000; n++) {
      let text = '';
      const length = 1 + Math.floor(random() * 16);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const delimiter = random() < 0.5 ? ',' : ';';
      const column = Math.floor(random() * 4);
      const want = expected(text, delimiter, column);
      expect(viewRecord(text, delimiter, column, true), JSON.stringify([text, delimiter, column])).toEqual(want);
      expect(viewRecord(text, delimiter, column, false), JSON.stringify([text, delimiter, column])).toEqual(want && { ...want, formula: false });
    }
  });
});

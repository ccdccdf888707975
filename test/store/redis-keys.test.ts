/** The stored formats of store/redis-keys.ts: the mxstats fields written and read back through one module. */
import { describe, expect, it } from 'vitest';
import { everyKeyPattern, mxStatsField, mxStatsPauseField, mxStatsPauseValue, parseMxStats, verdictCachePattern } from '../../src/store/redis-keys.ts';

describe('MX_STATS', () => {
  it('reads back what is written, per MX, pauses counted once per field', () => {
    const raw: Record<string, string> = {
      [mxStatsField('mx.a.test', 'sessions')]: '2',
      [mxStatsField('mx.a.test', 'rcpts')]: '30',
      [mxStatsField('mx.a.test', 'code:250')]: '20',
      [mxStatsField('mx.a.test', 'code:550')]: '10',
      [mxStatsField('mx.a.test', 'reconnects')]: '1',
      [mxStatsField('mx.a.test', 'ms')]: '1200',
      [mxStatsField('mx.a.test', 'deferred')]: '4',
      [mxStatsPauseField('mx.a.test', 1_000)]: mxStatsPauseValue(61_000, '450 4.7.1 Error: too many recipients from [192.0.2.1]'),
      [mxStatsPauseField('mx.a.test', 70_000)]: mxStatsPauseValue(190_000, '450 4.7.1 Error: too many recipients from [192.0.2.1]'),
      [mxStatsField('mx|odd.test', 'rcpts')]: '1',
    };
    expect(parseMxStats(raw)).toEqual([
      {
        mx: 'mx.a.test',
        sessions: 2,
        rcpts: 30,
        reconnects: 1,
        repliesByCode: { '250': 20, '550': 10 },
        durationMs: 1200,
        pauses: 2,
        pausedMs: 180_000,
        pauseReasons: ['450 4.7.1 Error: too many recipients from [192.0.2.1]'],
        deferred: 4,
      },
      { mx: 'mx|odd.test', sessions: 0, rcpts: 1, reconnects: 0, repliesByCode: {}, durationMs: 0, pauses: 0, pausedMs: 0, pauseReasons: [], deferred: 0 },
    ]);
  });
  it('SCAN patterns match the prefix literally', () => {
    expect(everyKeyPattern('t[1]*')).toBe('t\\[1\\]\\*:*');
    expect(verdictCachePattern('hygiene', 'ex*ample.test')).toBe('hygiene:verdict:*@ex\\*ample.test');
  });
});

/** The limits of one limit key (src/probe/limit-policy.ts, limit-key.ts): pure. */
import { describe, expect, it } from 'vitest';
import { limitKeyOf } from '../../src/probe/limit-key.ts';
import { cooldownMs, limitPolicy, RATE_WINDOW_S } from '../../src/probe/limit-policy.ts';
import { builtInProviders } from '../../src/providers/provider-file.ts';
import { compileProviderMatcher } from '../../src/providers/provider-matcher.ts';

const { table } = builtInProviders();
const matcher = compileProviderMatcher(table);
const settings = { maxSessionsPerMx: 2, sessionsPerMinute: 60, sessionBurst: 5, rcptPerSecondPerMx: 0, maxRcptPerTransaction: 50 };

describe('limit key: (provider or server, identity)', () => {
  it('every Google MX name and address shares one key per identity; identities do not share', () => {
    const keys = ['gmail-smtp-in.l.google.com', 'alt3.aspmx.l.google.com', 'aspmx2.googlemail.com', 'smtp.google.com'].map((mx, i) =>
      limitKeyOf({ mx, addresses: [`192.0.2.${i}`], provider: matcher.providerOf([mx])?.provider.slug ?? null, identity: 'proxy-1' }),
    );
    expect(new Set(keys)).toEqual(new Set(['google@proxy-1']));
    expect(limitKeyOf({ mx: 'smtp.google.com', addresses: ['192.0.2.1'], provider: 'google', identity: 'proxy-2' })).toBe('google@proxy-2');
  });

  it('a server of no provider is keyed by its first address; the default identity is direct', () => {
    expect(limitKeyOf({ mx: 'mx.example.test', addresses: ['192.0.2.7', '192.0.2.8'] })).toBe('192.0.2.7@direct');
  });
});

describe('limit policy', () => {
  it('a server of no provider keeps the per-MX settings', () => {
    expect(limitPolicy(null, { ...settings, rcptPerSecondPerMx: 3 })).toMatchObject({ sessionsAtOnce: 2, sessionStartsPerMinute: 60, sessionBurst: 5, rcptRate: { max: 3, windowSeconds: 1 }, rcptPerTransaction: 50 });
    expect(limitPolicy(null, settings).rcptRate).toBeNull();
  });

  it('the default profile is what one MX host got before: 2 sessions at once', () => {
    expect(limitPolicy(table.defaultProfile, settings).sessionsAtOnce).toBe(2);
  });

  it("Microsoft: its RCPTs a minute as ten-second windows (any sliding minute under its ban), one RCPT per transaction", () => {
    const microsoft = matcher.bySlug('microsoft')!.profile;
    const p = limitPolicy(microsoft, settings);
    expect(p.rcptPerTransaction).toBe(1);
    expect(p.rcptRate?.windowSeconds).toBe(RATE_WINDOW_S);
    // Worst case in any sliding minute: 60 / window + 1 windows full.
    expect(p.rcptRate!.max * (60 / RATE_WINDOW_S + 1)).toBeLessThanOrEqual(Math.ceil((microsoft.rcptsPerMinute * 7) / 6));
    expect(p.sessionBurst).toBeLessThanOrEqual(microsoft.sessionsAtOnce);
  });

  it('never less than one RCPT a window, never more per transaction than the setting', () => {
    const p = limitPolicy({ ...table.defaultProfile, rcptsPerMinute: 1, rcptPerTransaction: 500 }, settings);
    expect(p.rcptRate?.max).toBe(1);
    expect(p.rcptPerTransaction).toBe(50);
  });

  it('the cooldown ladder escalates and its last rung repeats', () => {
    const ladder = [5, 60, 1440];
    expect([1, 2, 3, 4, 9].map((level) => cooldownMs(ladder, level) / 60_000)).toEqual([5, 60, 1440, 1440, 1440]);
  });
});

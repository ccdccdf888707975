/**
 * How much a fleet may ask of one limit key (limit-key.ts): sessions at once, session starts a
 * minute (with a burst), RCPTs in a window, RCPTs per transaction, the block cooldown ladder. Pure.
 *
 * A server of a known provider gets its provider profile (providers.json, with HYGIENE_PROVIDERS_FILE
 * laid over it; a profile's missing fields are the table's defaultProfile): counted across all the
 * provider's MX names and addresses, per identity. A server of no known provider keeps the per-MX
 * settings (HYGIENE_MAX_SESSIONS_PER_MX, HYGIENE_SESSIONS_PER_MINUTE_PER_MX,
 * HYGIENE_RCPT_PER_SECOND_PER_MX) it had before providers existed.
 *
 * The RCPT rate of a profile (a number a minute) is enforced as a fixed window of RATE_WINDOW_S
 * seconds holding floor(perMinute * RATE_WINDOW_S / 60) RCPTs (at least 1): a fixed one-minute window
 * would let a whole minute's RCPTs go at the end of one minute and again at the start of the next,
 * twice the rate in any sliding minute; ten-second windows keep any sliding minute under 7/6 of it.
 */
import type { ProviderProfile } from '../providers/provider-table.ts';

export const RATE_WINDOW_S = 10;

export interface PerServerSettings {
  maxSessionsPerMx: number;
  sessionsPerMinute: number;
  sessionBurst: number;
  rcptPerSecondPerMx: number;
  maxRcptPerTransaction: number;
}

export interface LimitPolicy {
  sessionsAtOnce: number;
  sessionStartsPerMinute: number;
  sessionBurst: number;
  /** At most `max` RCPTs in each fixed window of `windowSeconds`; null = no RCPT rate beyond the session cap. */
  rcptRate: { max: number; windowSeconds: number } | null;
  /** RCPTs per transaction before RSET + MAIL. */
  rcptPerTransaction: number;
  /** Escalating rests after a sender block, in minutes (the last repeats). */
  blockCooldownMinutes: readonly number[];
}

/** The fallback ladder for servers of no provider: SEV's for a blocked IP (15 min, 1 h, 24 h, 48 h). */
const DEFAULT_COOLDOWN_MINUTES = [15, 60, 1440, 2880] as const;

export function limitPolicy(profile: ProviderProfile | null, settings: PerServerSettings, defaultCooldown: readonly number[] = DEFAULT_COOLDOWN_MINUTES): LimitPolicy {
  if (profile === null) {
    return {
      sessionsAtOnce: settings.maxSessionsPerMx,
      sessionStartsPerMinute: settings.sessionsPerMinute,
      sessionBurst: settings.sessionBurst,
      rcptRate: settings.rcptPerSecondPerMx > 0 ? { max: settings.rcptPerSecondPerMx, windowSeconds: 1 } : null,
      rcptPerTransaction: settings.maxRcptPerTransaction,
      blockCooldownMinutes: defaultCooldown.length > 0 ? defaultCooldown : DEFAULT_COOLDOWN_MINUTES,
    };
  }
  const perWindow = Math.max(1, Math.floor((profile.rcptsPerMinute * RATE_WINDOW_S) / 60));
  return {
    sessionsAtOnce: Math.max(1, profile.sessionsAtOnce),
    sessionStartsPerMinute: Math.max(1, profile.sessionStartsPerMinute),
    // A burst never above the provider's sessions at once: its starts a minute are already small.
    sessionBurst: Math.max(1, Math.min(settings.sessionBurst, profile.sessionsAtOnce)),
    rcptRate: { max: perWindow, windowSeconds: RATE_WINDOW_S },
    rcptPerTransaction: Math.max(1, Math.min(settings.maxRcptPerTransaction, profile.rcptPerTransaction ?? settings.maxRcptPerTransaction)),
    blockCooldownMinutes: profile.blockCooldownMinutes.length > 0 ? profile.blockCooldownMinutes : DEFAULT_COOLDOWN_MINUTES,
  };
}

/** The rest after the `level`-th block in a row (1 = first): the ladder's value, the last repeating. */
export function cooldownMs(ladderMinutes: readonly number[], level: number): number {
  const ladder = ladderMinutes.length > 0 ? ladderMinutes : DEFAULT_COOLDOWN_MINUTES;
  const index = Math.min(Math.max(1, level), ladder.length) - 1;
  return Math.round(ladder[index]! * 60_000);
}

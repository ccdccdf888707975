/**
 * Backoff for loops that restart themselves after a failure (a pool runner whose Redis refuses
 * writes, a respawned runner), and a log that says so once per interval instead of once per try.
 * "A loop that restarts itself backs off" (STYLE.md); "never flood", the log included.
 */
import type { Logger } from 'pino';

export interface BackoffOptions {
  /** First delay; default 250 ms. */
  firstMs?: number;
  /** Longest delay; default 30 s. */
  maxMs?: number;
  random?: () => number;
}

/** Exponential delays with jitter (each between half and all of the doubling step), bounded by maxMs. */
export class Backoff {
  private failures = 0;
  private readonly firstMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.firstMs = options.firstMs ?? 250;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next try, after one more failure. */
  next(): number {
    this.failures += 1;
    const step = Math.min(this.maxMs, this.firstMs * 2 ** Math.min(30, this.failures - 1));
    return Math.round(step / 2 + (step / 2) * this.random());
  }

  get attempts(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}

/**
 * A warning that may repeat many times a second (every pool of every MX hitting the same Redis
 * error) is written at most once per interval, with how many were held back since the last line.
 */
export interface TroubleLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

export function createTroubleLog(logger: Logger, intervalMs = 10_000, now: () => number = Date.now): TroubleLog {
  const last = new Map<string, { at: number; held: number }>();
  return {
    warn(fields, message) {
      const seen = last.get(message);
      const at = now();
      if (seen && at - seen.at < intervalMs) {
        seen.held += 1;
        return;
      }
      last.set(message, { at, held: 0 });
      logger.warn({ ...fields, ...(seen && seen.held > 0 ? { alsoSince: seen.held } : {}), nextLogInMs: intervalMs }, message);
    },
  };
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

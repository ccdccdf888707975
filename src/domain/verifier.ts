/**
 * The verifier seam between the queue workers and whatever decides a verdict (the SMTP engine in
 * production, syntax-only in tests). A batch holds addresses of one or more domains; the verifier
 * answers every address it was given, exactly once.
 */
import type { Verdict } from './verdict.ts';

export interface AddressToVerify {
  /** Normalised address used as the key everywhere: local part as written, domain as lower-case A-label. */
  address: string;
  local: string;
  /** Lower-case A-label (punycode) domain. */
  domain: string;
  /** False when the local part has non-ASCII characters (needs SMTPUTF8 to probe). */
  asciiLocal: boolean;
}

export interface VerifyBatch {
  listId: string;
  addresses: AddressToVerify[];
  /** 1 for the first try; greylisting retries count up. */
  attempt: number;
  /** Greylisting retries allowed in total (the verifier answers 'retry' only while attempt < this). */
  maxAttempts: number;
  /** Re-verification: verdict-cache entries older than this (by checkedAt) count as misses. */
  maxVerdictAgeMs?: number;
  /** Ignore the verdict cache and cached catch-all answers: probe now (`hygiene probe`). */
  skipCache?: boolean;
  /**
   * Work that came in through the HTTP API: MX hosts with a loopback, private, link-local or other
   * special-purpose address are not probed (unknown/mx_not_allowed, never cached). The CLI, watch
   * folder and schedules leave it unset and probe whatever DNS says.
   */
  refusePrivateMx?: boolean;
}

export type ProbeOutcome =
  | { kind: 'verdict'; verdict: Verdict }
  /**
   * Not answered yet: ask again after retryAfterMs; `verdict` is what to record if retries run out.
   * notAsked: the server was not asked at all (its MX is paused because it slowed us down), so this
   * retry is not an attempt: it spends the pause-retry budget (HYGIENE_MX_PAUSE_RETRIES) instead.
   */
  | { kind: 'retry'; retryAfterMs: number; verdict: Verdict; notAsked?: boolean };

export interface BatchVerifier {
  /** Must return one outcome for every address in the batch (keyed by `address`). */
  verify(batch: VerifyBatch, signal?: AbortSignal): Promise<Map<string, ProbeOutcome>>;
  close?(): Promise<void>;
}

/** The verifier used with `--syntax-only`: no network. Every syntactically valid address is
 *  unknown/not_verified; the row-level checks (syntax, duplicates, missing email) still apply. */
import type { BatchVerifier, ProbeOutcome, VerifyBatch } from '../domain/verifier.ts';

export function createSyntaxOnlyVerifier(now: () => Date = () => new Date()): BatchVerifier {
  return {
    async verify(batch: VerifyBatch): Promise<Map<string, ProbeOutcome>> {
      // One answer for the whole batch: verdicts are never mutated, and a shared object is stored
      // (serialised) once per job instead of once per address.
      const outcome: ProbeOutcome = {
        kind: 'verdict',
        verdict: { status: 'unknown', reason: 'not_verified', detail: 'The syntax is valid; the mailbox was not checked (SMTP verification is off).', checkedAt: now().toISOString() },
      };
      return new Map(batch.addresses.map((a) => [a.address, outcome]));
    },
  };
}

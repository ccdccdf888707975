/**
 * Puts the suppression list in front of a verifier that has no hook of its own (the syntax-only
 * verifier): suppressed addresses are answered undeliverable/suppressed, the rest go through.
 * The SMTP verifier has the hook built in (createSmtpVerifier's isSuppressed).
 */
import type { BatchVerifier, ProbeOutcome } from '../domain/verifier.ts';

export function withSuppression(inner: BatchVerifier, isSuppressed: (keys: string[]) => Promise<Map<string, string>>, now: () => Date = () => new Date()): BatchVerifier {
  return {
    async verify(batch, signal) {
      const keyOf = (address: string) => address.toLowerCase();
      const suppressed = await isSuppressed(batch.addresses.map((a) => keyOf(a.address)));
      const outcomes = new Map<string, ProbeOutcome>();
      const rest = batch.addresses.filter((a) => {
        const why = suppressed.get(keyOf(a.address));
        if (why === undefined) return true;
        outcomes.set(a.address, { kind: 'verdict', verdict: { status: 'undeliverable', reason: 'suppressed', detail: `On the suppression list: ${why}`, checkedAt: now().toISOString() } });
        return false;
      });
      if (rest.length > 0) for (const [address, outcome] of await inner.verify({ ...batch, addresses: rest }, signal)) outcomes.set(address, outcome);
      return outcomes;
    },
    close: inner.close ? () => inner.close!() : undefined,
  };
}

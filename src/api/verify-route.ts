/**
 * POST /v1/verify: one address, answered synchronously through the same engine as lists (the
 * runtime's verifier: verdict cache, MX resolution, per-MX pools and leases). Bounded by
 * HYGIENE_VERIFY_TIMEOUT_MS: past it the answer is unknown/timeout. A greylisted address is answered
 * unknown/greylisted with retryAfterMs: the caller asks again later (we do not hold the request).
 * MX hosts on private addresses are not probed unless HYGIENE_API_ALLOW_PRIVATE_MX=true
 * (unknown/mx_not_allowed; see probe/mx-address-policy.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { HygieneRuntime } from '../app/runtime.ts';
import { parseEmailAddress } from '../domain/email-address.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { ProbeOutcome } from '../domain/verifier.ts';
import { ERROR_SCHEMA } from './api-errors.ts';

export const SINGLE_VERIFY_LIST_ID = 'api-single';

const VERDICT_SCHEMA = {
  type: 'object',
  properties: {
    email: { type: 'string' },
    status: { type: 'string', enum: ['deliverable', 'undeliverable', 'risky', 'unknown'] },
    reason: { type: 'string' },
    detail: { type: 'string' },
    smtpReply: { type: 'string' },
    mx: { type: 'string' },
    provider: { type: 'string' },
    identity: { type: 'string' },
    suggestion: { type: 'string' },
    checkedAt: { type: 'string' },
    cached: { type: 'boolean' },
    retryAfterMs: { type: 'integer' },
    hint: { type: 'string' },
  },
} as const;

export interface VerifyRouteOptions {
  /** HYGIENE_VERIFY_TIMEOUT_MS. */
  timeoutMs: number;
  /** Refuse MX hosts on private addresses (unless HYGIENE_API_ALLOW_PRIVATE_MX=true). */
  refusePrivateMx: boolean;
}

export function registerVerifyRoute(app: FastifyInstance, runtime: HygieneRuntime, { timeoutMs, refusePrivateMx }: VerifyRouteOptions): void {
  app.post(
    '/v1/verify',
    {
      schema: {
        tags: ['verify'],
        summary: 'Verify one address synchronously (bounded by HYGIENE_VERIFY_TIMEOUT_MS).',
        body: {
          type: 'object',
          required: ['email'],
          additionalProperties: false,
          properties: { email: { type: 'string', minLength: 1, maxLength: 320 } },
        },
        response: { 200: VERDICT_SCHEMA, '4xx': ERROR_SCHEMA },
      },
    },
    async (req) => {
      const { email } = req.body as { email: string };
      const parsed = parseEmailAddress(email);
      if (!parsed.ok) {
        return { email, status: 'undeliverable', reason: parsed.reason, detail: parsed.detail, checkedAt: new Date().toISOString() };
      }
      const abort = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<null>((resolve) => {
        timer = setTimeout(() => {
          abort.abort();
          resolve(null);
        }, timeoutMs);
      });
      const verifying = runtime.verifier.verify(
        {
          listId: SINGLE_VERIFY_LIST_ID,
          addresses: [{ address: parsed.address, local: parsed.local, domain: parsed.domain, asciiLocal: parsed.asciiLocal }],
          attempt: 1,
          maxAttempts: 1,
          refusePrivateMx,
        },
        abort.signal,
      );
      verifying.catch(() => undefined); // a late failure after the timeout answer is not unhandled
      let outcome: ProbeOutcome | undefined | null;
      try {
        outcome = await Promise.race([verifying.then((outcomes) => outcomes.get(parsed.address)), timedOut]);
      } finally {
        clearTimeout(timer);
      }
      const checkedAt = new Date().toISOString();
      if (outcome === null) {
        return { email: parsed.address, status: 'unknown', reason: 'timeout', detail: `No answer within ${timeoutMs} ms.`, checkedAt, hint: 'Try again later, or upload the address as a list.' };
      }
      if (!outcome) {
        return { email: parsed.address, status: 'unknown', reason: 'smtp_error', detail: 'The verifier returned no answer for this address.', checkedAt };
      }
      if (outcome.kind === 'retry') {
        const verdict: Verdict = outcome.verdict;
        return {
          email: parsed.address,
          ...verdict,
          status: 'unknown',
          reason: 'greylisted',
          retryAfterMs: outcome.retryAfterMs,
          hint: `The mail server asked us to come back later (greylisting); ask again in ${Math.ceil(outcome.retryAfterMs / 1000)} s.`,
        };
      }
      return { email: parsed.address, ...outcome.verdict };
    },
  );
}

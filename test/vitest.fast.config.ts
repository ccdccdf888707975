import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

// The fast subset (`npm run test:fast`), what .ci/run runs on every extra Node LTS line (22, 24)
// besides the full suite on the machine's Node: the pure unit tests (addresses, replies, CSV, routing,
// DNS answers, flags, did-you-mean), the compiled CLI's start-up, version and one-line errors, the
// engines check, and one end-to-end list run on the simulated mail world (test/probe/engine.test.ts:
// real Redis, loopback DNS and SMTP with STARTTLS and pipelining). About a minute.
export const FAST_SUBSET = [
  'test/domain/**/*.test.ts',
  'test/csv/**/*.test.ts',
  'test/collector/**/*.test.ts',
  'test/smtp/reply-parser.test.ts',
  'test/smtp/smtp-commands.test.ts',
  'test/dns/mx-resolver.test.ts',
  'test/flags/address-flags.test.ts',
  'test/flags/disposable-domains.test.ts',
  'test/queue/stored-address.test.ts',
  'test/bounces/bounce-parsers.test.ts',
  'test/cli/did-you-mean.test.ts',
  'test/cli/cli-startup.test.ts',
  'test/cli/error-report.test.ts',
  'test/package/engines.test.ts',
  'test/probe/engine.test.ts',
];

// Not mergeConfig: it would append to the base config's include instead of replacing it.
export default defineConfig({ ...base, test: { ...base.test, include: FAST_SUBSET } });

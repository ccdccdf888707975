/** Small simulated worlds and list runners shared by the fault tests. */
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import { readReport, startList, waitForList } from '../../src/app/list-runner.ts';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import { describePolicy } from '../../src/domain/routing-policy.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { parseWorldSpec, type MtaBehaviour } from '../../src/world/world-spec.ts';
import type { WorldSpec } from '../../src/world/world-spec.ts';
import { REDIS_URL, silentLogger } from './fault-helpers.ts';

/**
 * Two domains on two MX hosts; local parts "ok<n>" exist, "no<n>" do not.
 * `behaviour` applies to both hosts.
 */
export function twoDomainWorld(behaviour: Partial<MtaBehaviour> = {}): WorldSpec {
  return parseWorldSpec({
    mxHosts: {
      'mx.alpha.test': { ip: '127.0.0.41', behaviour },
      'mx.beta.test': { ip: '127.0.0.42', behaviour },
    },
    domains: {
      'alpha.test': { mx: [{ host: 'mx.alpha.test', preference: 10 }], mailboxes: Array.from({ length: 500 }, (_, i) => `ok${i}`) },
      'beta.test': { mx: [{ host: 'mx.beta.test', preference: 10 }], mailboxes: Array.from({ length: 500 }, (_, i) => `ok${i}`) },
    },
  });
}

/** n addresses alternating domains and existing / missing mailboxes, with what each should get. */
export function mixedAddresses(n: number): { emails: string[]; expected: Map<string, string> } {
  const emails: string[] = [];
  const expected = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const domain = i % 2 === 0 ? 'alpha.test' : 'beta.test';
    const exists = i % 4 < 2;
    const email = `${exists ? 'ok' : 'no'}${i}@${domain}`;
    emails.push(email);
    expected.set(email, exists ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found');
  }
  return { emails, expected };
}

/** The environment a CLI child or loadConfig gets to use a world and a private key prefix. */
export function worldEnv(dnsServers: string[], smtpPort: number, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...demoEnvironment(dnsServers, smtpPort),
    REDIS_URL,
    HYGIENE_PREFIX: prefix,
    HYGIENE_GREYLIST_RETRY_MS: '500',
    HYGIENE_BACKOFF_MS: '200',
    HYGIENE_CATCH_ALL_PROBE: 'false',
    ...extra,
  };
}

export async function startRuntime(config: Config, verifyWorkers: boolean, redisUrl = REDIS_URL): Promise<HygieneRuntime> {
  return HygieneRuntime.start({ config, logger: silentLogger, redisUrl, verifyWorkers, finalizeWorker: true });
}

export function configFor(env: Record<string, string>): Config {
  return loadConfig(env);
}

/** Starts a list on the runtime and waits for its report. */
export async function runList(runtime: HygieneRuntime, input: string, outDir: string): Promise<ListReport> {
  const { listId } = await startList(runtime, { input, outDir, options: listOptions(runtime.config) });
  return readReport(await waitForList(runtime, listId, { pollMs: 100 }));
}

export function listOptions(config: Config) {
  return { reject: describePolicy(config.output.rejectPolicy), neutraliseFormulas: config.output.neutraliseFormulas };
}

export function outputBase(dir: string, name: string) {
  return { cleaned: path.join(dir, `${name}.cleaned.csv`), rejected: path.join(dir, `${name}.rejected.csv`), report: path.join(dir, `${name}.report.json`) };
}

/**
 * Starts a whole simulated mail world: the DNS server and one Postfix-like MTA per MX host, all MTAs
 * on the same port on their own 127.x.y.z address (so an engine that always dials port N, like a
 * real one dials 25, finds every host). Hosts with the same `operator` share one OperatorState:
 * per-client blocks and rate windows, and the operator-wide counters of operatorStats().
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HygieneError } from '../errors.ts';
import { makeSelfSignedCertificate } from './self-signed-certificate.ts';
import { startSimDnsServer, type SimDnsStats } from './sim-dns-server.ts';
import { newOperatorState, type OperatorState, type OperatorStats } from './client-ledger.ts';
import { startSimMta, type MtaStats, type SimMta, type TranscriptEvent } from './sim-mta.ts';
import { parseWorldSpec, type WorldSpec } from './world-spec.ts';

export interface MailWorldOptions {
  /** Port shared by every MTA; 0/absent = one that is free on every host IP. */
  smtpPort?: number;
  /** Port of the DNS server (UDP+TCP on 127.0.0.1); 0/absent = a free one. */
  dnsPort?: number;
  /** STARTTLS certificate; default: the files named in spec.tls, or a throwaway one for "self-signed". */
  tls?: { cert: string | Buffer; key: string | Buffer } | null;
  onTranscript?: (event: TranscriptEvent) => void;
  /** Clock for greylisting, rate windows and blocks. Default Date.now. */
  now?: () => number;
}

export interface MailWorld {
  spec: WorldSpec;
  /** ["127.0.0.1:PORT"]: hand to createDnsMxResolver({ servers }). */
  dnsServers: string[];
  smtpPort: number;
  /**
   * Why the MTAs offer no STARTTLS although the spec asked for a self-signed certificate (no
   * `openssl` command to make one); null when TLS is as the spec says.
   */
  tlsUnavailable: string | null;
  /** Live per-MX-host counters, keyed by host name. */
  stats(): Record<string, MtaStats>;
  /** Live counters per operator (hosts that share one), keyed by operator name: sessions at once across all its hosts and addresses, blocks, RCPTs while blocked. */
  operatorStats(): Record<string, OperatorStats>;
  dnsStats(): SimDnsStats;
  stop(): Promise<void>;
}

/**
 * Reads and validates a world JSON file; `tls` file paths are resolved against the file's folder.
 * Throws WORLD_SPEC_INVALID listing every problem.
 */
export async function loadWorldSpecFile(file: string): Promise<WorldSpec> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new HygieneError('WORLD_SPEC_INVALID', `Cannot read the world description ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  const spec = parseWorldSpec(raw);
  if (spec.tls === null || spec.tls === 'self-signed') return spec;
  const dir = path.dirname(path.resolve(file));
  return { ...spec, tls: { certFile: path.resolve(dir, spec.tls.certFile), keyFile: path.resolve(dir, spec.tls.keyFile) } };
}

export async function startMailWorld(spec: WorldSpec, options: MailWorldOptions = {}): Promise<MailWorld> {
  let tlsMaterial = options.tls ?? null;
  let tlsUnavailable: string | null = null;
  if (options.tls === undefined && spec.tls === 'self-signed') {
    const made = await makeSelfSignedCertificate(Object.keys(spec.mxHosts));
    if ('unavailable' in made) tlsUnavailable = made.unavailable;
    else tlsMaterial = made;
  } else if (options.tls === undefined && spec.tls !== null && spec.tls !== 'self-signed') {
    tlsMaterial = { cert: await readFile(spec.tls.certFile), key: await readFile(spec.tls.keyFile) };
  }
  const dns = await startSimDnsServer(spec, { port: options.dnsPort ?? 0 });
  let mtas: Awaited<ReturnType<typeof startMtas>>;
  try {
    mtas = await startMtas(spec, options, tlsMaterial);
  } catch (err) {
    await dns.stop();
    throw err;
  }
  const smtpPort = mtas.port;
  let stopped: Promise<void> | null = null;
  return {
    spec,
    dnsServers: [dns.address],
    smtpPort,
    tlsUnavailable,
    stats: () => Object.fromEntries(mtas.list.map((m) => [m.hostname, m.stats])),
    operatorStats: () => Object.fromEntries([...mtas.operators].map(([name, o]) => [name, o.stats])),
    dnsStats: () => dns.stats,
    stop: () => {
      // Runs once; a failing step does not keep the others from running.
      stopped ??= Promise.allSettled([dns.stop(), ...mtas.list.map((m) => m.stop())]).then(() => undefined);
      return stopped;
    },
  };
}

/** One shared state per operator named in the spec. */
function operatorStates(spec: WorldSpec, now: () => number): Map<string, OperatorState> {
  const hostsOf = new Map<string, string[]>();
  for (const [name, host] of Object.entries(spec.mxHosts)) {
    if (host.operator !== null) hostsOf.set(host.operator, [...(hostsOf.get(host.operator) ?? []), name]);
  }
  return new Map([...hostsOf].map(([operator, hosts]) => [operator, newOperatorState(operator, hosts, now)]));
}

async function startMtas(
  spec: WorldSpec,
  options: MailWorldOptions,
  tls: MailWorldOptions['tls'],
): Promise<{ list: SimMta[]; port: number; operators: Map<string, OperatorState> }> {
  const operators = operatorStates(spec, options.now ?? Date.now);
  const names = Object.keys(spec.mxHosts);
  // Listening hosts first, so the port is chosen by a real bind, not by a refusing host.
  names.sort((a, b) => Number(spec.mxHosts[a]?.behaviour.refuse) - Number(spec.mxHosts[b]?.behaviour.refuse));
  const fixed = options.smtpPort !== undefined && options.smtpPort !== 0;
  for (let attempt = 0; ; attempt++) {
    const started: SimMta[] = [];
    let port = fixed ? (options.smtpPort ?? 0) : 0;
    try {
      for (const name of names) {
        const operatorName = spec.mxHosts[name]?.operator ?? null;
        const operator = operatorName === null ? undefined : operators.get(operatorName);
        const mta = await startSimMta(spec, name, { port, tls, onTranscript: options.onTranscript, now: options.now, operator });
        port = mta.port;
        started.push(mta);
      }
      return { list: started, port: started[0]?.port ?? port, operators };
    } catch (err) {
      await Promise.allSettled(started.map((m) => m.stop()));
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (fixed || !inUse || attempt >= 20) throw err;
    }
  }
}

/**
 * A mail world behind network latency, for benchmarks: every MX host's MTA listens on a backend
 * IP, and a delay proxy (one per MX host, on the IP the DNS publishes, same port as the others)
 * forwards to it with `oneWayDelayMs` in each direction. So latency is in the network, not in the
 * server's replies, and the proxies count round trips as the servers see them.
 *
 * MX host i is published at 127.0.2.(i+1) and runs at 127.0.1.(i+1).
 */
import { startDelayProxy, type DelayProxy } from './delay-proxy.ts';
import { startSimDnsServer } from './sim-dns-server.ts';
import { startSimMta, type MtaStats, type SimMta } from './sim-mta.ts';
import type { WorldSpec } from './world-spec.ts';

export interface DelayedMailWorld {
  dnsServers: string[];
  smtpPort: number;
  stats(): Record<string, MtaStats>;
  proxyStats(): Record<string, DelayProxy['stats']>;
  stop(): Promise<void>;
}

export interface DelayedMailWorldOptions {
  oneWayDelayMs: number;
  /** Published (proxy) IP of MX host i; default 127.0.2.(i+1). */
  publicIp?: (index: number) => string;
  /** Backend (MTA) IP of MX host i; default 127.0.1.(i+1). */
  backendIp?: (index: number) => string;
}

export async function startDelayedMailWorld(spec: WorldSpec, options: DelayedMailWorldOptions): Promise<DelayedMailWorld> {
  const publicIp = options.publicIp ?? ((i: number) => `127.0.2.${i + 1}`);
  const backendIp = options.backendIp ?? ((i: number) => `127.0.1.${i + 1}`);
  const names = Object.keys(spec.mxHosts);
  const withIps = (ip: (i: number) => string): WorldSpec => ({
    ...spec,
    mxHosts: Object.fromEntries(names.map((name, i) => [name, { ...spec.mxHosts[name]!, ip: ip(i) }])),
  });
  const dns = await startSimDnsServer(withIps(publicIp));
  const backendSpec = withIps(backendIp);
  const mtas: SimMta[] = [];
  const proxies: DelayProxy[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled([dns.stop(), ...proxies.map((p) => p.stop()), ...mtas.map((m) => m.stop())]);
  };
  try {
    // One port for every host: the first MTA picks a free one, the others and the proxies reuse it.
    let port = 0;
    for (const name of names) {
      const mta = await startSimMta(backendSpec, name, { port });
      port = mta.port;
      mtas.push(mta);
    }
    for (const [i, mta] of mtas.entries()) {
      proxies.push(await startDelayProxy({ listenHost: publicIp(i), listenPort: port, targetHost: mta.ip, targetPort: mta.port, oneWayDelayMs: options.oneWayDelayMs }));
    }
    return {
      dnsServers: [dns.address],
      smtpPort: port,
      stats: () => Object.fromEntries(mtas.map((m) => [m.hostname, m.stats])),
      proxyStats: () => Object.fromEntries(mtas.map((m, i) => [m.hostname, proxies[i]!.stats])),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

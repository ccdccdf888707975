/**
 * Makes real DNS fail loudly in a test process: while installed, dns.lookup of a name (not an IP
 * literal or localhost) and any Resolver query through a server off loopback throw, and every such
 * attempt is recorded. The provider world uses the real MX names of Google, Microsoft, Yahoo...;
 * a test must only ever see them through the simulated DNS server on 127.0.0.1.
 */
import dns from 'node:dns';
import dnsPromises from 'node:dns/promises';
import net from 'node:net';

const QUERY_METHODS = [
  'resolve',
  'resolve4',
  'resolve6',
  'resolveAny',
  'resolveCaa',
  'resolveCname',
  'resolveMx',
  'resolveNaptr',
  'resolveNs',
  'resolvePtr',
  'resolveSoa',
  'resolveSrv',
  'resolveTxt',
  'reverse',
] as const;

export interface RealDnsGuard {
  /** What tried to reach real DNS ("resolveMx gmail.com via 8.8.8.8"); must stay empty. */
  attempts: string[];
  restore(): void;
}

function onLoopback(server: string): boolean {
  const host = server.startsWith('[') ? server.slice(1, server.indexOf(']')) : server.replace(/:\d+$/, '');
  return /^127\./.test(host) || host === '::1';
}

export function forbidRealDns(): RealDnsGuard {
  const attempts: string[] = [];
  const undo: Array<() => void> = [];

  const patch = <T extends object>(target: T, key: string, replacement: unknown): void => {
    const original = (target as Record<string, unknown>)[key];
    if (typeof original !== 'function') return;
    (target as Record<string, unknown>)[key] = replacement;
    undo.push(() => {
      (target as Record<string, unknown>)[key] = original;
    });
  };

  for (const proto of [dns.Resolver.prototype, dnsPromises.Resolver.prototype] as unknown as Array<Record<string, unknown>>) {
    for (const method of QUERY_METHODS) {
      const original = proto[method];
      if (typeof original !== 'function') continue;
      patch(proto, method, function (this: { getServers(): string[] }, ...args: unknown[]) {
        const servers = this.getServers();
        if (servers.length === 0 || !servers.every(onLoopback)) {
          const what = `${method} ${String(args[0])} via ${servers.join(',') || 'the system resolvers'}`;
          attempts.push(what);
          throw new Error(`Real DNS used in a test: ${what}`);
        }
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      });
    }
  }
  const guardLookup = (original: unknown) =>
    function (this: unknown, hostname: string, ...rest: unknown[]) {
      if (net.isIP(hostname) === 0 && hostname !== 'localhost') {
        attempts.push(`lookup ${hostname}`);
        throw new Error(`Real DNS used in a test: lookup ${hostname}`);
      }
      return (original as (...a: unknown[]) => unknown).call(this, hostname, ...rest);
    };
  patch(dns, 'lookup', guardLookup(dns.lookup));
  patch(dnsPromises, 'lookup', guardLookup(dnsPromises.lookup));

  return {
    attempts,
    restore() {
      for (const u of undo.splice(0).reverse()) u();
    },
  };
}

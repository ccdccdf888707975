/**
 * A real DNS server (UDP and TCP on the same loopback port, dns2) answering from a WorldSpec:
 * MX (null MX as "0 ."), A, AAAA, NODATA (with an SOA in the authority section), NXDOMAIN for
 * unknown names, and the per-domain faults of `DomainSpec.dns`: SERVFAIL, REFUSED, no answer at
 * all (for timeouts) and slow answers.
 */
import dns2 from 'dns2';
import type { Packet as PacketType } from 'dns2';
import type { Socket } from 'node:dgram';
import type { Server } from 'node:net';
import type { WorldSpec } from './world-spec.ts';

const { Packet } = dns2;

export interface SimDnsStats {
  queries: number;
  /** Queries by type name ("MX", "A", "AAAA", or the number for others). */
  byType: Record<string, number>;
  /** Queries by lower-case name. */
  byName: Record<string, number>;
  /** Queries deliberately left unanswered (`no_answer`). */
  unanswered: number;
}

export interface SimDnsServer {
  /** "127.0.0.1:PORT", ready for Resolver.setServers(). */
  address: string;
  port: number;
  stats: SimDnsStats;
  stop(): Promise<void>;
}

export interface SimDnsOptions {
  /** Port for UDP and TCP; 0/absent = a free one. */
  port?: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
}

/** RFC 1035 §4.1.1 response codes (dns2 has them at runtime but not in its types). */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

const TYPE_NAMES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 15: 'MX', 16: 'TXT', 28: 'AAAA' };

type Answer =
  | { rcode: number; answers: Record<string, unknown>[]; authorities: Record<string, unknown>[] }
  | { drop: true };

/** Pure: what the world answers to one question. Exported for tests. */
export function answerQuestion(spec: WorldSpec, rawName: string, type: number): Answer & { delayMs: number } {
  const name = rawName.replace(/\.$/, '').toLowerCase();
  const domain = spec.domains[name];
  const host = spec.mxHosts[name];
  const ttl = 300;
  const base = { name: rawName, class: Packet.CLASS.IN, ttl };
  if (domain === undefined && host === undefined) {
    return { rcode: RCODE.NXDOMAIN, answers: [], authorities: [soa(rawName)], delayMs: 0 };
  }
  const delayMs = domain?.dns.delayMs ?? 0;
  switch (domain?.dns.failure) {
    case 'servfail':
      return { rcode: RCODE.SERVFAIL, answers: [], authorities: [], delayMs };
    case 'refused':
      return { rcode: RCODE.REFUSED, answers: [], authorities: [], delayMs };
    case 'no_answer':
      return { drop: true, delayMs };
    default:
      break;
  }
  const answers: Record<string, unknown>[] = [];
  if (type === Packet.TYPE.MX && domain !== undefined) {
    // RFC 7505: the null MX is preference 0, exchange "." (dns2 encodes "" as the root name).
    if (domain.nullMx) answers.push({ ...base, type: Packet.TYPE.MX, priority: 0, exchange: '' });
    for (const r of domain.mx) answers.push({ ...base, type: Packet.TYPE.MX, priority: r.preference, exchange: r.host });
  } else if (type === Packet.TYPE.A) {
    const addrs = new Set([...(domain?.a ?? []), ...(host !== undefined ? [host.ip, ...host.extraIps] : [])]);
    for (const address of addrs) answers.push({ ...base, type: Packet.TYPE.A, address });
  } else if (type === Packet.TYPE.AAAA) {
    const addrs = new Set([...(domain?.aaaa ?? []), ...(host?.ipv6 ?? [])]);
    for (const address of addrs) answers.push({ ...base, type: Packet.TYPE.AAAA, address });
  }
  // NODATA (RFC 2308 §2.2): NOERROR, no answers, SOA in the authority section.
  return { rcode: RCODE.NOERROR, answers, authorities: answers.length > 0 ? [] : [soa(rawName)], delayMs };
}

function soa(name: string): Record<string, unknown> {
  return {
    name,
    type: Packet.TYPE.SOA,
    class: Packet.CLASS.IN,
    ttl: 60,
    primary: 'ns.sim.test',
    admin: 'hostmaster.sim.test',
    serial: 1,
    refresh: 3600,
    retry: 600,
    expiration: 86400,
    minimum: 60,
  };
}

export async function startSimDnsServer(spec: WorldSpec, options: SimDnsOptions = {}): Promise<SimDnsServer> {
  const host = options.host ?? '127.0.0.1';
  const stats: SimDnsStats = { queries: 0, byType: {}, byName: {}, unanswered: 0 };
  const timers = new Set<NodeJS.Timeout>();

  const handle = (request: PacketType, sendResponse: (response: PacketType) => Promise<Buffer>): void => {
    // A client that went away makes send() reject; nothing to do about it.
    const send = (response: PacketType): void => void sendResponse(response).catch(() => undefined);
    const response = Packet.createResponseFromRequest(request);
    const question = request.questions[0];
    if (question === undefined) {
      response.header.rcode = RCODE.FORMERR;
      send(response);
      return;
    }
    const typeName = TYPE_NAMES[question.type] ?? String(question.type);
    const lname = question.name.toLowerCase();
    stats.queries++;
    stats.byType[typeName] = (stats.byType[typeName] ?? 0) + 1;
    stats.byName[lname] = (stats.byName[lname] ?? 0) + 1;
    const answer = answerQuestion(spec, question.name, question.type);
    if ('drop' in answer) {
      stats.unanswered++;
      return;
    }
    response.header.aa = 1;
    response.header.rcode = answer.rcode;
    // dns2 types its records loosely; these objects carry exactly the fields its encoders read.
    response.answers.push(...(answer.answers as unknown as PacketType['answers']));
    response.authorities.push(...(answer.authorities as unknown as PacketType['authorities']));
    if (answer.delayMs > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        send(response);
      }, answer.delayMs);
      timers.add(t);
    } else {
      send(response);
    }
  };

  // UDP and TCP must share the port (c-ares falls back to TCP on truncation): bind UDP, then try
  // TCP on the same port, retrying with a new port when another process holds it.
  for (let attempt = 0; ; attempt++) {
    const udp = dns2.createUDPServer(handle);
    const tcp = dns2.createTCPServer(handle);
    const tcpClients = new Set<import('node:net').Socket>();
    tcp.on('connection', (socket: import('node:net').Socket) => {
      tcpClients.add(socket);
      socket.on('close', () => tcpClients.delete(socket));
    });
    // Malformed packets are ignored, as a real server would.
    udp.on('requestError', () => undefined);
    tcp.on('requestError', () => undefined);
    try {
      const port = await listen(udp, tcp, host, options.port ?? 0);
      return {
        address: `${host}:${port}`,
        port,
        stats,
        stop: async () => {
          for (const t of timers) clearTimeout(t);
          timers.clear();
          await Promise.all([
            new Promise<void>((resolve) => udp.close(() => resolve())),
            new Promise<void>((resolve) => {
              tcp.close(() => resolve());
              // Do not wait for idle TCP clients (dns2 keeps them 10 s).
              for (const socket of tcpClients) socket.destroy();
            }),
          ]);
        },
      };
    } catch (err) {
      try {
        udp.close();
      } catch {
        /* not bound */
      }
      if (tcp.listening) tcp.close();
      if ((options.port !== undefined && options.port !== 0) || attempt >= 20) throw err;
    }
  }
}

async function listen(udp: Socket, tcp: Server, host: string, port: number): Promise<number> {
  const udpPort = await new Promise<number>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, host, () => {
      udp.off('error', reject);
      resolve(udp.address().port);
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(udpPort, host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  return udpPort;
}

/**
 * Generates a benchmark world and its contact list, deterministically from a seed: `domains`
 * domains spread round-robin over `mxHosts` Postfix-like MX hosts, `addresses` unique addresses
 * shuffled across domains (like a real list), of which `unknownRatio` have no mailbox.
 * Used by `npm run bench`; the spec goes through parseWorldSpec like any world file.
 */
import { parseWorldSpec, type MtaBehaviour, type WorldSpec } from './world-spec.ts';

export interface GeneratedWorldOptions {
  mxHosts: number;
  domains: number;
  addresses: number;
  /** Share of the addresses whose mailbox does not exist (answered 550 5.1.1). */
  unknownRatio: number;
  /** IP of MX host i (0-based); default 127.0.1.(i+1). */
  mxIp?: (index: number) => string;
  behaviour?: Partial<MtaBehaviour>;
  seed?: number;
}

export interface GeneratedWorld {
  spec: WorldSpec;
  /** Every address of the list, in list order; `unknown` marks those without a mailbox. */
  contacts: Array<{ address: string; first: string; last: string; company: string; unknown: boolean }>;
  mxHostNames: string[];
}

const FIRST = ['anna', 'ben', 'carla', 'david', 'elif', 'farid', 'grace', 'hugo', 'ines', 'jonas', 'kim', 'lena', 'marco', 'nora', 'omar', 'paula', 'quentin', 'rosa', 'sven', 'tara'];
const LAST = ['meyer', 'schmidt', 'garcia', 'rossi', 'dubois', 'novak', 'kowalski', 'silva', 'jensen', 'murphy', 'yilmaz', 'smith', 'nguyen', 'tanaka', 'okafor', 'larsen'];

/** mulberry32: a small deterministic PRNG, so every run probes the same world. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function generateWorld(options: GeneratedWorldOptions): GeneratedWorld {
  const random = seededRandom(options.seed ?? 42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const mxIp = options.mxIp ?? ((i: number) => `127.0.1.${i + 1}`);
  const mxHostNames = Array.from({ length: options.mxHosts }, (_, i) => `mx${i + 1}.bench-hosting.test`);
  const mxHosts = Object.fromEntries(mxHostNames.map((name, i) => [name, { ip: mxIp(i), behaviour: { ...options.behaviour } }]));
  const domainNames = Array.from({ length: options.domains }, (_, i) => `company${String(i + 1).padStart(2, '0')}.test`);

  const contacts: GeneratedWorld['contacts'] = [];
  const mailboxes = new Map<string, string[]>(domainNames.map((d) => [d, []]));
  const unknownCount = Math.round(options.addresses * options.unknownRatio);
  // Which rows are unknown: an exact count, spread at random over the list.
  const unknownFlags = Array.from({ length: options.addresses }, (_, i) => i < unknownCount);
  shuffle(unknownFlags, random);
  for (let i = 0; i < options.addresses; i++) {
    const domain = domainNames[i % domainNames.length]!;
    const first = pick(FIRST);
    const last = pick(LAST);
    const local = `${first}.${last}${i}`;
    const unknown = unknownFlags[i]!;
    if (!unknown) mailboxes.get(domain)!.push(local);
    contacts.push({ address: `${local}@${domain}`, first, last, company: domain.replace('.test', ' Ltd'), unknown });
  }
  shuffle(contacts, random);

  const domains = Object.fromEntries(
    domainNames.map((d, i) => [d, { mx: [{ host: mxHostNames[i % mxHostNames.length]!, preference: 10 }], mailboxes: mailboxes.get(d) ?? [] }]),
  );
  return { spec: parseWorldSpec({ mxHosts, domains }), contacts, mxHostNames };
}

function shuffle<T>(list: T[], random: () => number): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
}

/**
 * Outbound identities: the ways our SMTP connections go out, each seen by mail servers as one IP
 * address with its own reputation, HELO name and PTR (PROVIDERS.md, "Outbound: port 25 and
 * proxies": through SOCKS5 the remote sees the proxy's address, so HELO, PTR and per-IP limits belong
 * to that identity, not to this host).
 *
 * Configured by, one entry per identity:
 *  - HYGIENE_SMTP_PROXY / --smtp-proxy: comma-separated `socks5://[user:password@]host[:port]`;
 *  - HYGIENE_LOCAL_ADDRESS / --local-address: comma-separated local IP addresses to bind;
 *  - or HYGIENE_IDENTITIES_FILE: a JSON file `{ "identities": [ { "id", "proxy" | "localAddress",
 *    "helo", "mailFrom" }, ... ] }` (credentials stay out of the environment and process list).
 * An entry may end in options after "#": `#helo=NAME&mail-from=ADDRESS&id=NAME`, e.g.
 * `socks5://user:pass@10.0.0.5:1080#helo=mx1.example.com`. Commas always separate entries and "#"
 * always starts the options, so a password holding either is percent-encoded (%2C, %23), as a URL
 * needs anyway. Without any of them there is one identity, `direct`.
 *
 * Each value is checked by the parse functions of setting-values.ts (the same ones the SMTP command
 * builders use). A problem never quotes a password. The result is frozen.
 *
 * The engine keeps one pool per (MX host, identity) and routes each probe to an identity its provider
 * allows that is not resting (probe/smtp-verifier.ts); limits and cooldowns are per identity.
 */
import { readFileSync, statSync } from 'node:fs';
import {
  parseHeloName,
  parseIdentityId,
  parseIpAddress,
  parseMailFrom,
  parseSocksProxyUrl,
  withoutCredentials,
  type HeloName,
  type IdentityId,
  type IpAddress,
  type MailFrom,
  type SocksProxyUrl,
} from './setting-values.ts';

export type IdentityKind = 'direct' | 'local-address' | 'socks5';

export interface OutboundIdentity {
  /** Stable name: "direct", "local-192.0.2.10", "socks5-10.0.0.5-1080", or the one given with id=. */
  readonly id: IdentityId;
  readonly kind: IdentityKind;
  /** The setting it came from, for messages: HYGIENE_SMTP_PROXY, HYGIENE_LOCAL_ADDRESS, HYGIENE_IDENTITIES_FILE or "default". */
  readonly setting: string;
  /** How it is shown in logs, reports and messages; never with credentials ("socks5://***@10.0.0.5:1080"). */
  readonly display: string;
  /** kind socks5: the proxy (its credentials print as "[redacted]"). */
  readonly proxy: SocksProxyUrl | undefined;
  /** kind local-address: the local address our connections start from. */
  readonly localAddress: IpAddress | undefined;
  /** Its own HELO name, else HYGIENE_HELO_NAME (or the derived one); undefined when neither exists. */
  readonly heloName: HeloName | undefined;
  /** Its own sender, else HYGIENE_MAIL_FROM, else verify@ its HELO name. */
  readonly mailFrom: MailFrom | undefined;
}

/** What the identities inherit from the global settings. */
export interface IdentityDefaults {
  heloName: HeloName | undefined;
  mailFrom: MailFrom | undefined;
  /** HYGIENE_MAIL_FROM was set: it is every identity's sender unless an entry says otherwise. */
  mailFromExplicit: boolean;
}

export interface IdentitySources {
  /** HYGIENE_SMTP_PROXY (or --smtp-proxy) as given. */
  proxies?: string;
  /** HYGIENE_LOCAL_ADDRESS (or --local-address) as given. */
  localAddresses?: string;
  /** HYGIENE_IDENTITIES_FILE. */
  file?: string;
}

/** One entry's options, from "#..." or the file's fields. */
interface EntryOptions {
  id?: string;
  helo?: string;
  mailFrom?: string;
}

const OPTION_KEYS: Record<string, keyof EntryOptions> = { id: 'id', helo: 'helo', 'mail-from': 'mailFrom' };
const MAX_IDENTITIES = 256;
const MAX_FILE_BYTES = 1024 * 1024;

const PROXY_EXAMPLE = 'HYGIENE_SMTP_PROXY=socks5://user:password@203.0.113.5:1080#helo=mx1.example.com';
const LOCAL_EXAMPLE = 'HYGIENE_LOCAL_ADDRESS=192.0.2.10#helo=mx1.example.com';

/**
 * The configured identities, in order (the first is the engine's today). Problems are pushed onto
 * `problems`, one line each, naming the variable; with any problem the list may be incomplete.
 */
export function parseOutboundIdentities(sources: IdentitySources, defaults: IdentityDefaults, problems: string[]): readonly OutboundIdentity[] {
  const identities: OutboundIdentity[] = [];
  const file = sources.file?.trim() ?? '';
  const proxies = splitList(sources.proxies);
  const locals = splitList(sources.localAddresses);
  if (file !== '') {
    if (proxies.length > 0 || locals.length > 0) {
      problems.push('HYGIENE_IDENTITIES_FILE is set together with HYGIENE_SMTP_PROXY or HYGIENE_LOCAL_ADDRESS: list every identity in the file, or use the variables, not both');
    }
    identities.push(...identitiesFromFile(file, defaults, problems));
  } else {
    for (const entry of proxies) {
      const identity = identityFromEntry('HYGIENE_SMTP_PROXY', 'socks5', entry, defaults, problems);
      if (identity) identities.push(identity);
    }
    for (const entry of locals) {
      const identity = identityFromEntry('HYGIENE_LOCAL_ADDRESS', 'local-address', entry, defaults, problems);
      if (identity) identities.push(identity);
    }
  }
  if (identities.length > MAX_IDENTITIES) problems.push(`At most ${MAX_IDENTITIES} outbound identities may be configured (got ${identities.length})`);
  const seen = new Map<string, string>();
  for (const identity of identities) {
    const other = seen.get(identity.id);
    if (other !== undefined) {
      problems.push(`${identity.setting}: two outbound identities are called "${identity.id}" (${other} and ${identity.display}): give each its own name with #id=NAME (e.g. ${PROXY_EXAMPLE}&id=eu-1)`);
    }
    seen.set(identity.id, identity.display);
  }
  if (identities.length === 0 && file === '') identities.push(build('default', 'direct', undefined, undefined, {}, defaults));
  return Object.freeze(identities.map((identity) => Object.freeze(identity)));
}

/**
 * A proxy entry as a problem may quote it: the credentials (everything between "://" and the last "@")
 * as ***, and nothing at all of a text that might be part of a password cut short by an unencoded ","
 * or "#" (anything but scheme://host[:port]).
 */
function shownProxy(text: string): string {
  const at = text.lastIndexOf('@');
  if (at >= 0) {
    const scheme = /^[a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
    return `${scheme}***@${text.slice(at + 1).split('#')[0]}`;
  }
  if (/^[a-z0-9+.-]+:\/\/(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?\/?$/i.test(text)) return withoutCredentials(text);
  return '(not shown: it may hold part of a password; a "," or "#" in a password is written %2C or %23)';
}

function splitList(raw: string | undefined): string[] {
  return typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

/** One entry of HYGIENE_SMTP_PROXY or HYGIENE_LOCAL_ADDRESS: `endpoint[#key=value&...]`. */
function identityFromEntry(setting: string, kind: 'socks5' | 'local-address', entry: string, defaults: IdentityDefaults, problems: string[]): OutboundIdentity | undefined {
  const hash = entry.indexOf('#');
  const endpoint = hash < 0 ? entry : entry.slice(0, hash);
  const example = kind === 'socks5' ? PROXY_EXAMPLE : LOCAL_EXAMPLE;
  const options: EntryOptions = {};
  let ok = true;
  let shown = kind === 'socks5' ? shownProxy(endpoint) : endpoint;
  if (hash >= 0) {
    for (const pair of entry.slice(hash + 1).split('&')) {
      const eq = pair.indexOf('=');
      const key = OPTION_KEYS[eq < 0 ? pair : pair.slice(0, eq)];
      let value: string | undefined;
      try {
        value = eq < 0 ? undefined : decodeURIComponent(pair.slice(eq + 1));
      } catch {
        value = undefined;
      }
      if (key === undefined || value === undefined || value === '') {
        // What follows "#" may be the end of a password with an unencoded "#": never echo it, nor what
        // came before it when the rest holds the "@" that ended the credentials.
        if (kind === 'socks5' && entry.slice(hash).includes('@')) shown = shownProxy(entry);
        problems.push(`${setting} entry "${shown}" has options after "#" that are not helo=NAME, mail-from=ADDRESS or id=NAME (a "#" in a password is written %23; e.g. ${example})`);
        ok = false;
        break;
      }
      options[key] = value;
    }
  }
  if (!ok) return undefined;
  const parsed = parseEndpoint(kind, endpoint, (quoted, problem) => `${setting} entry "${quoted}" ${problem} (e.g. ${example})`, problems);
  const checked = checkOptions(setting, parsed?.proxy?.display ?? shown, options, example, problems);
  if (!parsed || !checked) return undefined;
  return build(setting, kind, parsed.proxy, parsed.localAddress, checked, defaults);
}

/** An identity's way out through its parse function; a problem (worded by `say`) quotes it without credentials. */
function parseEndpoint(
  kind: 'socks5' | 'local-address',
  text: string,
  say: (quoted: string, problem: string) => string,
  problems: string[],
): { proxy?: SocksProxyUrl; localAddress?: IpAddress } | undefined {
  if (kind === 'socks5') {
    const parsed = parseSocksProxyUrl(text);
    if (parsed.ok) return { proxy: parsed.value };
    problems.push(say(shownProxy(text), parsed.problem));
    return undefined;
  }
  const parsed = parseIpAddress(text);
  if (parsed.ok) return { localAddress: parsed.value };
  problems.push(say(text, parsed.problem));
  return undefined;
}

/** The options, each through its parse function; undefined (and problems) when one is wrong. */
function checkOptions(
  setting: string,
  shown: string,
  options: EntryOptions,
  example: string,
  problems: string[],
): { id?: IdentityId; helo?: HeloName; mailFrom?: MailFrom } | undefined {
  const out: { id?: IdentityId; helo?: HeloName; mailFrom?: MailFrom } = {};
  let ok = true;
  const check = <T>(what: string, value: string | undefined, parse: (text: string) => { ok: true; value: T } | { ok: false; problem: string }): T | undefined => {
    if (value === undefined) return undefined;
    const parsed = parse(value);
    if (parsed.ok) return parsed.value;
    problems.push(`${setting} entry "${shown}": ${what} "${value}" ${parsed.problem} (e.g. ${example})`);
    ok = false;
    return undefined;
  };
  out.id = check('id', options.id, parseIdentityId);
  out.helo = check('helo', options.helo, parseHeloName);
  out.mailFrom = check('mail-from', options.mailFrom, (text) => parseMailFrom(text));
  return ok ? out : undefined;
}

function build(
  setting: string,
  kind: IdentityKind,
  proxy: SocksProxyUrl | undefined,
  localAddress: IpAddress | undefined,
  options: { id?: IdentityId; helo?: HeloName; mailFrom?: MailFrom },
  defaults: IdentityDefaults,
): OutboundIdentity {
  const heloName = options.helo ?? defaults.heloName;
  let mailFrom = options.mailFrom ?? (defaults.mailFromExplicit ? defaults.mailFrom : undefined);
  if (mailFrom === undefined && options.helo !== undefined) {
    const derived = parseMailFrom(`verify@${options.helo}`);
    if (derived.ok) mailFrom = derived.value;
  }
  mailFrom ??= defaults.mailFrom;
  const display = kind === 'socks5' && proxy ? proxy.display : kind === 'local-address' && localAddress ? `local address ${localAddress}` : 'direct';
  return { id: options.id ?? defaultId(kind, proxy, localAddress), kind, setting, display, proxy, localAddress, heloName, mailFrom };
}

/** A name that stays the same for the same endpoint ("socks5-10.0.0.5-1080", "local-2001-db8--1"). */
function defaultId(kind: IdentityKind, proxy: SocksProxyUrl | undefined, localAddress: IpAddress | undefined): IdentityId {
  const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9.]/g, '-');
  const raw = kind === 'socks5' && proxy ? `socks5-${slug(proxy.host)}-${proxy.port}` : kind === 'local-address' && localAddress ? `local-${slug(localAddress)}` : 'direct';
  const parsed = parseIdentityId(raw.slice(0, 64));
  return parsed.ok ? parsed.value : ('direct' as IdentityId);
}

const FILE_FIELDS = ['id', 'proxy', 'localAddress', 'helo', 'mailFrom', '$comment'];

/** HYGIENE_IDENTITIES_FILE: `{ "identities": [ { "id"?, "proxy"? | "localAddress"?, "helo"?, "mailFrom"? } ] }`. */
function identitiesFromFile(file: string, defaults: IdentityDefaults, problems: string[]): OutboundIdentity[] {
  const setting = 'HYGIENE_IDENTITIES_FILE';
  let raw: unknown;
  try {
    const size = statSync(file).size;
    if (size > MAX_FILE_BYTES) throw new Error(`it is ${size} bytes, more than ${MAX_FILE_BYTES}`);
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    // JSON.parse's message quotes part of the text, which may be a password: say only where.
    const why = err instanceof SyntaxError ? 'it is not valid JSON' : (err as Error).message;
    problems.push(`${setting}: cannot use ${file}: ${why}`);
    return [];
  }
  const list = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>).identities : undefined;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push(`${setting}: ${file} must be a JSON object { "identities": [ { "proxy": "socks5://...", "helo": "..." }, { "localAddress": "192.0.2.10" } ] } with at least one identity`);
    return [];
  }
  const identities: OutboundIdentity[] = [];
  list.forEach((item: unknown, i) => {
    const where = `${setting}: ${file}: identities[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${where} must be an object`);
      return;
    }
    const entry = item as Record<string, unknown>;
    const unknown = Object.keys(entry).filter((key) => !FILE_FIELDS.includes(key));
    if (unknown.length > 0) problems.push(`${where} has unknown fields: ${unknown.join(', ')} (known: id, proxy, localAddress, helo, mailFrom)`);
    const text = (key: string): string | undefined => {
      const value = entry[key];
      if (value === undefined || value === null) return undefined;
      if (typeof value === 'string' && value.trim() !== '') return value.trim();
      problems.push(`${where}.${key} must be a non-empty string`);
      return undefined;
    };
    const proxyText = text('proxy');
    const localText = text('localAddress');
    if (proxyText !== undefined && localText !== undefined) {
      problems.push(`${where} has both "proxy" and "localAddress": an identity goes out one way (a proxy's connections start from the proxy)`);
      return;
    }
    const kind = proxyText !== undefined ? 'socks5' : localText !== undefined ? 'local-address' : 'direct';
    const endpoint =
      kind === 'direct' ? {} : parseEndpoint(kind, (proxyText ?? localText)!, (shown, problem) => `${where}.${kind === 'socks5' ? 'proxy' : 'localAddress'} "${shown}" ${problem}`, problems);
    const checked = checkOptions(setting, `${file} identities[${i}]`, { id: text('id'), helo: text('helo'), mailFrom: text('mailFrom') }, '{ "proxy": "socks5://203.0.113.5:1080", "helo": "mx1.example.com" }', problems);
    if (unknown.length > 0 || !endpoint || !checked) return;
    identities.push(build(setting, kind, endpoint.proxy, endpoint.localAddress, checked, defaults));
  });
  return identities;
}

/** The identities that miss a HELO name or a sender (a probing command stops on them). */
export function identitiesWithoutHelo(identities: readonly OutboundIdentity[]): OutboundIdentity[] {
  return identities.filter((identity) => identity.heloName === undefined || identity.mailFrom === undefined);
}

/**
 * The table of big mailbox providers, hosting companies and mail gateways (src/providers/providers.json,
 * optionally overridden by the user's file named in HYGIENE_PROVIDERS_FILE): who runs an MX host,
 * how politely to probe it, what its replies mean, and which outbound identities may probe it.
 * Pure: no I/O; it imports only the pure setting-value parsers (one rule for an identity id).
 *
 * `parseProviderTable` checks a parsed JSON value and lists every problem at once (a typed result,
 * never a throw); given the built-in table too, it first lays the user's table over it by slug. A
 * valid table is deep-frozen. The file format is documented in docs/providers.md.
 *
 * Matching text is plain data (lower-case substrings, host-name suffixes), never regular
 * expressions: a user's file cannot make the matcher slow or throw.
 */
import { parseIdentityId } from '../config/setting-values.ts';

export const PROVIDER_KINDS = ['mailbox-provider', 'gateway', 'hosting'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** What a provider-specific reply means for the address probed (read with the provider, never alone). */
export const REPLY_MEANINGS = ['mailbox_not_found', 'mailbox_disabled', 'mailbox_full', 'too_many_recipients', 'throttled'] as const;
export type ReplyMeaningKind = (typeof REPLY_MEANINGS)[number];

/** Whom a block reply is about: our IP (or its network), our HELO name, our sender address, or our rate. */
export const BLOCK_SUBJECTS = ['ip', 'network', 'helo', 'sender', 'rate'] as const;
export type BlockSubject = (typeof BLOCK_SUBJECTS)[number];

/** block: mail from us is refused until something changes; throttle: we are asked to slow down. */
export const BLOCK_SEVERITIES = ['block', 'throttle'] as const;
export type BlockSeverity = (typeof BLOCK_SEVERITIES)[number];

/** A reply this entry recognises: every given part must match (text parts are lower-case substrings). */
export interface ReplyPattern {
  /** Basic code, e.g. 550; null = any. */
  code: number | null;
  /** Enhanced code, e.g. "5.4.1"; null = any. */
  enhanced: string | null;
  /** Lower-case substrings that must all occur in the reply text (lines joined by spaces). */
  textIncludes: readonly string[];
}

export interface ReplyMeaning {
  id: string;
  match: ReplyPattern;
  /** Only at these segments of the provider (e.g. ["business"]); null = everywhere. */
  segments: readonly string[] | null;
  meaning: ReplyMeaningKind;
  why: string;
  sources: readonly string[];
}

export interface BlockSignature {
  id: string;
  match: ReplyPattern;
  about: BlockSubject;
  severity: BlockSeverity;
  /** The DNS blocklist named, when the reply names one (e.g. "zen.spamhaus.org"). */
  blocklist: string | null;
  /** What it means, in a sentence a user understands. */
  means: string;
  /** What the user can do about it (delisting page, ...), when known. */
  action: string | null;
  sources: readonly string[];
}

export interface MxPattern {
  /** Host-name suffix matched at a label boundary: "google.com" matches "alt1.aspmx.l.google.com", never "evilgoogle.com". */
  suffix: string;
  /** Part of the provider these hosts serve ("business", "consumer", ...); null = not told apart. */
  segment: string | null;
}

export interface GreetingPattern {
  /** Suffix of the host name the greeting starts with ("220 mx.google.com ESMTP ..."); null = any. */
  hostSuffix: string | null;
  /** Lower-case substrings that must all occur in the greeting. */
  includes: readonly string[];
  segment: string | null;
}

export interface ProviderProfile {
  /** SMTP sessions open at once to this provider, fleet-wide, across all its MX names and addresses. */
  sessionsAtOnce: number;
  /** New SMTP sessions per minute to this provider, fleet-wide. */
  sessionStartsPerMinute: number;
  /** RCPT commands per minute to this provider, fleet-wide. */
  rcptsPerMinute: number;
  /** RCPTs per transaction before a new one (RSET + MAIL) is needed; null = no known limit (RFC 5321's 100 apply). */
  rcptPerTransaction: number | null;
  /** Rest after a block, escalating: the first block rests blockCooldownMinutes[0], the next [1], ... the last repeats. */
  blockCooldownMinutes: readonly number[];
  /** True only when the provider itself publishes these limits. */
  limitsPublished: boolean;
  /** Where the numbers come from, or why they are what they are when nobody publishes one. */
  note: string;
  sources: readonly string[];
}

export interface AcceptsAll {
  /** Why every RCPT is accepted (so the verdict is risky/catch_all and says so). */
  reason: string;
  /** Only at these segments of the provider; null = all its hosts. */
  segments: readonly string[] | null;
  sources: readonly string[];
}

export interface ObservedCatchAllShare {
  /** Share (0..1) of domains behind this provider found to accept every local part. Informational. */
  share: number;
  source: string;
}

export interface Provider {
  /** Lower-case slug: the value of the hygiene_provider column ("google", "microsoft", ...). */
  slug: string;
  name: string;
  kind: ProviderKind;
  mx: readonly MxPattern[];
  greetings: readonly GreetingPattern[];
  profile: ProviderProfile;
  acceptsAll: AcceptsAll | null;
  observedCatchAllShare: ObservedCatchAllShare | null;
  replyMeanings: readonly ReplyMeaning[];
  blockSignatures: readonly BlockSignature[];
  /**
   * Pinned to these outbound identities (ids of HYGIENE_SMTP_PROXY "#id=", HYGIENE_LOCAL_ADDRESS or
   * HYGIENE_IDENTITIES_FILE): only they may probe this provider. null = any identity. The
   * configuration checks that each one is configured.
   */
  identities: readonly string[] | null;
  notes: string | null;
  sources: readonly string[];
}

export interface ProviderTable {
  version: 1;
  /** Limits of a provider whose entry does not say otherwise (and of every entry's missing fields). */
  defaultProfile: ProviderProfile;
  /** Block signatures that can come from any host (DNS blocklists through Postfix, anvil rate limits). */
  anyHost: { blockSignatures: readonly BlockSignature[] };
  providers: readonly Provider[];
}

export type ProviderTableResult = { ok: true; table: ProviderTable } | { ok: false; problems: string[] };

const SLUG = /^[a-z][a-z0-9-]{0,31}$/;
const ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const SEGMENT = /^[a-z][a-z0-9-]{0,31}$/;
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}$/;
/** A host name or suffix: LDH labels (and "_"), lower case, no empty label, no trailing dot. */
const HOST_SUFFIX = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const MAX_TEXT = 1000;
const MAX_LIST = 200;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects problems with their JSON path; every reader returns a usable value so checking goes on. */
class Checker {
  readonly problems: string[] = [];

  constructor(private readonly origin: string) {}

  problem(path: string, message: string): void {
    this.problems.push(`${this.origin}: ${path}: ${message}`);
  }

  fields(value: Record<string, unknown>, path: string, known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (key !== '$comment' && !known.includes(key)) this.problem(`${path}.${key}`, 'unknown field');
    }
  }

  text(v: unknown, path: string, options: { optional?: boolean; lower?: boolean } = {}): string | null {
    if (v === undefined || v === null) {
      if (!options.optional) this.problem(path, 'is required (a non-empty string)');
      return null;
    }
    if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_TEXT || /[\r\n\0]/.test(v)) {
      this.problem(path, `must be a non-empty one-line string of at most ${MAX_TEXT} characters`);
      return null;
    }
    if (options.lower && v !== v.toLowerCase()) {
      this.problem(path, 'must be lower case (matching ignores case; write it lower case)');
      return null;
    }
    return v;
  }

  texts(v: unknown, path: string, options: { lower?: boolean; min?: number } = {}): string[] {
    if (v === undefined) {
      if ((options.min ?? 0) > 0) this.problem(path, `needs at least ${options.min} entry`);
      return [];
    }
    if (!Array.isArray(v) || v.length > MAX_LIST) {
      this.problem(path, `must be an array of at most ${MAX_LIST} strings`);
      return [];
    }
    if (v.length < (options.min ?? 0)) this.problem(path, `needs at least ${options.min} entry`);
    const out: string[] = [];
    v.forEach((item, i) => {
      const s = this.text(item, `${path}[${i}]`, { lower: options.lower });
      if (s !== null) out.push(s);
    });
    return out;
  }

  int(v: unknown, path: string, min: number, max: number): number | null {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.problem(path, `must be a whole number from ${min} to ${max}`);
      return null;
    }
    return v;
  }

  list(v: unknown, path: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.length > MAX_LIST) {
      this.problem(path, `must be an array of at most ${MAX_LIST} entries`);
      return [];
    }
    return v;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T | null {
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.problem(path, `must be one of ${allowed.join(', ')}`);
    return null;
  }
}

const PROFILE_FIELDS = ['sessionsAtOnce', 'sessionStartsPerMinute', 'rcptsPerMinute', 'rcptPerTransaction', 'blockCooldownMinutes', 'limitsPublished', 'note', 'sources'] as const;

/** Reads a profile; fields missing from `raw` come from `base` (the default profile), or are problems when there is none. */
function readProfile(c: Checker, raw: unknown, path: string, base: ProviderProfile | null): ProviderProfile {
  const fallback: ProviderProfile = base ?? {
    sessionsAtOnce: 1,
    sessionStartsPerMinute: 1,
    rcptsPerMinute: 1,
    rcptPerTransaction: 1,
    blockCooldownMinutes: [60],
    limitsPublished: false,
    note: '',
    sources: [],
  };
  if (raw === undefined && base !== null) return base;
  if (!isRecord(raw)) {
    c.problem(path, 'must be an object');
    return fallback;
  }
  c.fields(raw, path, PROFILE_FIELDS);
  const has = (key: string): boolean => raw[key] !== undefined || base === null;
  const int = (key: 'sessionsAtOnce' | 'sessionStartsPerMinute' | 'rcptsPerMinute', max: number): number =>
    has(key) ? (c.int(raw[key], `${path}.${key}`, 1, max) ?? fallback[key]) : fallback[key];
  let rcptPerTransaction = fallback.rcptPerTransaction;
  if (has('rcptPerTransaction')) {
    rcptPerTransaction = raw.rcptPerTransaction === null ? null : (c.int(raw.rcptPerTransaction, `${path}.rcptPerTransaction`, 1, 1000) ?? fallback.rcptPerTransaction);
  }
  let blockCooldownMinutes = fallback.blockCooldownMinutes;
  if (has('blockCooldownMinutes')) {
    const list = c.list(raw.blockCooldownMinutes, `${path}.blockCooldownMinutes`);
    const minutes = list.map((m, i) => c.int(m, `${path}.blockCooldownMinutes[${i}]`, 1, 30 * 24 * 60)).filter((m): m is number => m !== null);
    if (list.length === 0) c.problem(`${path}.blockCooldownMinutes`, 'needs at least one duration in minutes');
    else if (minutes.some((m, i) => i > 0 && m < (minutes[i - 1] ?? 0))) c.problem(`${path}.blockCooldownMinutes`, 'must not get shorter (the cooldown escalates)');
    blockCooldownMinutes = minutes.length > 0 ? minutes : fallback.blockCooldownMinutes;
  }
  let limitsPublished = fallback.limitsPublished;
  if (has('limitsPublished')) {
    if (typeof raw.limitsPublished !== 'boolean') c.problem(`${path}.limitsPublished`, 'must be true or false');
    else limitsPublished = raw.limitsPublished;
  }
  const note = has('note') ? (c.text(raw.note, `${path}.note`) ?? fallback.note) : fallback.note;
  const sources = has('sources') ? c.texts(raw.sources, `${path}.sources`) : fallback.sources;
  return {
    sessionsAtOnce: int('sessionsAtOnce', 50),
    sessionStartsPerMinute: int('sessionStartsPerMinute', 10_000),
    rcptsPerMinute: int('rcptsPerMinute', 100_000),
    rcptPerTransaction,
    blockCooldownMinutes,
    limitsPublished,
    note,
    sources,
  };
}

function readPattern(c: Checker, raw: Record<string, unknown>, path: string): ReplyPattern {
  let code: number | null = null;
  if (raw.code !== undefined && raw.code !== null) code = c.int(raw.code, `${path}.code`, 200, 599);
  let enhanced: string | null = null;
  if (raw.enhanced !== undefined && raw.enhanced !== null) {
    if (typeof raw.enhanced !== 'string' || !ENHANCED.test(raw.enhanced)) c.problem(`${path}.enhanced`, 'must be an enhanced status code such as "5.4.1"');
    else enhanced = raw.enhanced;
  }
  const textIncludes = c.texts(raw.textIncludes, `${path}.textIncludes`, { lower: true });
  if (code === null && enhanced === null && textIncludes.length === 0) c.problem(path, 'must give at least one of code, enhanced, textIncludes');
  if (textIncludes.length === 0 && raw.textIncludes === undefined && (code !== null || enhanced !== null)) {
    // A bare code matches replies of every provider alike: that is the reply classifier's job.
    c.problem(`${path}.textIncludes`, 'needs at least one substring (a bare code is not specific to a provider)');
  }
  if (code !== null && enhanced !== null && String(code)[0] !== enhanced[0]) c.problem(path, `code ${code} and enhanced ${enhanced} disagree on the class`);
  return { code, enhanced, textIncludes };
}

const MEANING_FIELDS = ['id', 'code', 'enhanced', 'textIncludes', 'segments', 'meaning', 'why', 'sources'] as const;
const SIGNATURE_FIELDS = ['id', 'code', 'enhanced', 'textIncludes', 'about', 'severity', 'blocklist', 'means', 'action', 'sources'] as const;

function readSignatures(c: Checker, raw: unknown, path: string): BlockSignature[] {
  const out: BlockSignature[] = [];
  const ids = new Set<string>();
  c.list(raw, path).forEach((item, i) => {
    const p = `${path}[${i}]`;
    if (!isRecord(item)) return c.problem(p, 'must be an object');
    c.fields(item, p, SIGNATURE_FIELDS);
    const id = readId(c, item.id, `${p}.id`, ids);
    const match = readPattern(c, item, p);
    const about = c.oneOf(item.about, `${p}.about`, BLOCK_SUBJECTS);
    const severity = c.oneOf(item.severity, `${p}.severity`, BLOCK_SEVERITIES);
    const blocklist = item.blocklist === undefined || item.blocklist === null ? null : c.text(item.blocklist, `${p}.blocklist`, { lower: true });
    if (blocklist !== null && !HOST_SUFFIX.test(blocklist)) c.problem(`${p}.blocklist`, 'must be a DNS zone such as "zen.spamhaus.org"');
    const means = c.text(item.means, `${p}.means`);
    const action = c.text(item.action, `${p}.action`, { optional: true });
    const sources = c.texts(item.sources, `${p}.sources`);
    if (id && about && severity && means) out.push({ id, match, about, severity, blocklist, means, action, sources });
  });
  return out;
}

/** A provider's pinned identities: null (any), or a non-empty list of distinct identity ids. */
function readIdentities(c: Checker, raw: unknown, path: string): string[] | null {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_LIST) {
    c.problem(path, `must be null (any identity) or a list of 1 to ${MAX_LIST} outbound identity ids, e.g. ["proxy-eu", "proxy-us"]`);
    return null;
  }
  const ids: string[] = [];
  raw.forEach((item: unknown, i) => {
    const parsed = parseIdentityId(typeof item === 'string' ? item : '');
    if (!parsed.ok) return c.problem(`${path}[${i}]`, `${JSON.stringify(item)} ${parsed.problem}`);
    if (ids.includes(parsed.value)) return c.problem(`${path}[${i}]`, `"${parsed.value}" is listed twice`);
    ids.push(parsed.value);
  });
  return ids;
}

function readId(c: Checker, v: unknown, path: string, seen: Set<string>): string | null {
  if (typeof v !== 'string' || !ID.test(v)) {
    c.problem(path, 'must be an id of lower-case letters, digits, "-", "_" or "."');
    return null;
  }
  if (seen.has(v)) c.problem(path, `"${v}" is used twice`);
  seen.add(v);
  return v;
}

const PROVIDER_FIELDS = [
  'slug',
  'name',
  'kind',
  'mx',
  'greetings',
  'profile',
  'acceptsAll',
  'observedCatchAllShare',
  'replyMeanings',
  'blockSignatures',
  'identities',
  'notes',
  'sources',
] as const;

function readProvider(c: Checker, raw: Record<string, unknown>, path: string, defaults: ProviderProfile): Provider | null {
  c.fields(raw, path, PROVIDER_FIELDS);
  const slug = typeof raw.slug === 'string' && SLUG.test(raw.slug) ? raw.slug : null;
  if (slug === null) c.problem(`${path}.slug`, 'must be a lower-case slug (a-z, 0-9, "-"; starts with a letter; at most 32 characters)');
  const name = c.text(raw.name, `${path}.name`);
  const kind = c.oneOf(raw.kind, `${path}.kind`, PROVIDER_KINDS);

  const segments = new Set<string>();
  const readSegment = (v: unknown, p: string): string | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || !SEGMENT.test(v)) {
      c.problem(p, 'must be a lower-case word such as "business"');
      return null;
    }
    segments.add(v);
    return v;
  };

  const mx: MxPattern[] = [];
  c.list(raw.mx, `${path}.mx`).forEach((item, i) => {
    const p = `${path}.mx[${i}]`;
    if (!isRecord(item)) return c.problem(p, 'must be { "suffix": "...", "segment"?: "..." }');
    c.fields(item, p, ['suffix', 'segment']);
    const suffix = typeof item.suffix === 'string' ? item.suffix : '';
    if (!HOST_SUFFIX.test(suffix)) return c.problem(`${p}.suffix`, 'must be a lower-case host name suffix such as "mail.protection.outlook.com" (no "*", no trailing dot)');
    if (!suffix.includes('.')) return c.problem(`${p}.suffix`, 'must have at least two labels (a whole top-level domain is not one provider)');
    mx.push({ suffix, segment: readSegment(item.segment, `${p}.segment`) });
  });

  const greetings: GreetingPattern[] = [];
  c.list(raw.greetings, `${path}.greetings`).forEach((item, i) => {
    const p = `${path}.greetings[${i}]`;
    if (!isRecord(item)) return c.problem(p, 'must be { "hostSuffix"?: "...", "includes"?: [...], "segment"?: "..." }');
    c.fields(item, p, ['hostSuffix', 'includes', 'segment']);
    let hostSuffix: string | null = null;
    if (item.hostSuffix !== undefined && item.hostSuffix !== null) {
      if (typeof item.hostSuffix !== 'string' || !HOST_SUFFIX.test(item.hostSuffix)) c.problem(`${p}.hostSuffix`, 'must be a lower-case host name suffix');
      else hostSuffix = item.hostSuffix;
    }
    const includes = c.texts(item.includes, `${p}.includes`, { lower: true });
    // A greeting pattern without a host name must say something specific, or it matches every banner.
    if (hostSuffix === null && includes.join('').length < 6) c.problem(p, 'needs a hostSuffix or "includes" text of at least 6 characters');
    greetings.push({ hostSuffix, includes, segment: readSegment(item.segment, `${p}.segment`) });
  });
  if (mx.length === 0 && greetings.length === 0 && raw.mx === undefined) c.problem(`${path}.mx`, 'needs at least one MX suffix (or greetings); give "mx": [] to switch an entry off');

  const profile = readProfile(c, raw.profile, `${path}.profile`, defaults);

  /** A list of segments this provider's patterns name; null when absent. */
  function readSegmentList(v: unknown, p: string): string[] | null {
    if (v === undefined || v === null) return null;
    const only = c.texts(v, p, { lower: true, min: 1 });
    for (const s of only) if (!segments.has(s)) c.problem(p, `no MX or greeting pattern of this provider has the segment "${s}"`);
    return only;
  }

  let acceptsAll: AcceptsAll | null = null;
  if (raw.acceptsAll !== undefined && raw.acceptsAll !== null) {
    if (!isRecord(raw.acceptsAll)) c.problem(`${path}.acceptsAll`, 'must be null or { "reason": "...", "segments"?: [...], "sources": [...] }');
    else {
      c.fields(raw.acceptsAll, `${path}.acceptsAll`, ['reason', 'segments', 'sources']);
      const reason = c.text(raw.acceptsAll.reason, `${path}.acceptsAll.reason`);
      const only = readSegmentList(raw.acceptsAll.segments, `${path}.acceptsAll.segments`);
      const sources = c.texts(raw.acceptsAll.sources, `${path}.acceptsAll.sources`);
      if (reason) acceptsAll = { reason, segments: only, sources };
    }
  }

  let observedCatchAllShare: ObservedCatchAllShare | null = null;
  if (raw.observedCatchAllShare !== undefined && raw.observedCatchAllShare !== null) {
    const o = raw.observedCatchAllShare;
    if (!isRecord(o) || typeof o.share !== 'number' || o.share < 0 || o.share > 1) c.problem(`${path}.observedCatchAllShare`, 'must be { "share": 0..1, "source": "..." }');
    else {
      c.fields(o, `${path}.observedCatchAllShare`, ['share', 'source']);
      const source = c.text(o.source, `${path}.observedCatchAllShare.source`);
      if (source) observedCatchAllShare = { share: o.share, source };
    }
  }

  const replyMeanings: ReplyMeaning[] = [];
  const ids = new Set<string>();
  c.list(raw.replyMeanings, `${path}.replyMeanings`).forEach((item, i) => {
    const p = `${path}.replyMeanings[${i}]`;
    if (!isRecord(item)) return c.problem(p, 'must be an object');
    c.fields(item, p, MEANING_FIELDS);
    const id = readId(c, item.id, `${p}.id`, ids);
    const match = readPattern(c, item, p);
    const only = readSegmentList(item.segments, `${p}.segments`);
    const meaning = c.oneOf(item.meaning, `${p}.meaning`, REPLY_MEANINGS);
    const why = c.text(item.why, `${p}.why`);
    const sources = c.texts(item.sources, `${p}.sources`);
    if (id && meaning && why) replyMeanings.push({ id, match, segments: only, meaning, why, sources });
  });

  const blockSignatures = readSignatures(c, raw.blockSignatures, `${path}.blockSignatures`);
  const identities = readIdentities(c, raw.identities, `${path}.identities`);
  const notes = c.text(raw.notes, `${path}.notes`, { optional: true });
  const sources = c.texts(raw.sources, `${path}.sources`);
  if (slug === null || name === null || kind === null) return null;
  return { slug, name, kind, mx, greetings, profile, acceptsAll, observedCatchAllShare, replyMeanings, blockSignatures, identities, notes, sources };
}

/**
 * Validates a parsed provider table. `origin` names the file in every problem. With `baseRaw` (the
 * built-in table as parsed from its JSON) the value is an override: it is laid over the base first
 * (see overlay), so a partial entry for a known slug is valid and a new slug must be complete.
 */
export function parseProviderTable(raw: unknown, origin: string, baseRaw?: unknown): ProviderTableResult {
  const c = new Checker(origin);
  if (!isRecord(raw)) return { ok: false, problems: [`${origin}: must be a JSON object with "version": 1 and "providers": [...]`] };
  c.fields(raw, '$', ['version', 'defaultProfile', 'anyHost', 'providers']);
  if (raw.version !== 1) c.problem('$.version', 'must be 1');
  const merged = isRecord(baseRaw) ? overlay(raw, baseRaw) : raw;

  const defaultProfile = readProfile(c, merged.defaultProfile, '$.defaultProfile', null);
  let anyHost: BlockSignature[] = [];
  if (merged.anyHost !== undefined) {
    if (!isRecord(merged.anyHost)) c.problem('$.anyHost', 'must be { "blockSignatures": [...] }');
    else {
      c.fields(merged.anyHost, '$.anyHost', ['blockSignatures']);
      anyHost = readSignatures(c, merged.anyHost.blockSignatures, '$.anyHost.blockSignatures');
    }
  }
  const providers: Provider[] = [];
  const slugs = new Map<string, number>();
  const suffixOwner = new Map<string, string>();
  c.list(merged.providers, '$.providers').forEach((item, i) => {
    const p = `$.providers[${i}]`;
    if (!isRecord(item)) return c.problem(p, 'must be an object');
    const provider = readProvider(c, item, typeof item.slug === 'string' && SLUG.test(item.slug) ? `$.providers[${item.slug}]` : p, defaultProfile);
    if (provider === null) return;
    const other = slugs.get(provider.slug);
    if (other !== undefined) return c.problem(`${p}.slug`, `"${provider.slug}" is also the slug of providers[${other}]`);
    slugs.set(provider.slug, i);
    for (const m of provider.mx) {
      const owner = suffixOwner.get(m.suffix);
      if (owner !== undefined && owner !== provider.slug) c.problem(`$.providers[${provider.slug}].mx`, `suffix "${m.suffix}" is also claimed by "${owner}"`);
      suffixOwner.set(m.suffix, provider.slug);
    }
    providers.push(provider);
  });
  if (c.problems.length > 0) return { ok: false, problems: c.problems };
  return { ok: true, table: deepFreeze({ version: 1, defaultProfile, anyHost: { blockSignatures: anyHost }, providers }) };
}

/**
 * The user's file laid over the built-in table (both as parsed JSON), for one validation pass:
 * defaultProfile merges field by field; a provider entry merges over the built-in entry of its
 * slug field by field, its profile field by field too (arrays such as mx or replyMeanings replace
 * the built-in ones); an entry with a new slug is added; anyHost signatures replace built-in ones
 * of the same id and add the others.
 */
function overlay(raw: Record<string, unknown>, base: Record<string, unknown>): Record<string, unknown> {
  const baseProviders = Array.isArray(base.providers) ? (base.providers as unknown[]) : [];
  const baseSignatures = isRecord(base.anyHost) && Array.isArray(base.anyHost.blockSignatures) ? (base.anyHost.blockSignatures as unknown[]) : [];
  const merged: Record<string, unknown> = {
    version: raw.version,
    defaultProfile: isRecord(raw.defaultProfile) && isRecord(base.defaultProfile) ? { ...base.defaultProfile, ...raw.defaultProfile } : (raw.defaultProfile ?? base.defaultProfile),
    anyHost: base.anyHost,
    providers: baseProviders,
  };
  if (raw.anyHost !== undefined) {
    if (isRecord(raw.anyHost) && Array.isArray(raw.anyHost.blockSignatures)) {
      const extra = raw.anyHost.blockSignatures as unknown[];
      const replaced = new Set(extra.map((s) => (isRecord(s) ? s.id : undefined)));
      merged.anyHost = { ...raw.anyHost, blockSignatures: [...baseSignatures.filter((s) => !(isRecord(s) && replaced.has(s.id))), ...extra] };
    } else merged.anyHost = raw.anyHost;
  }
  if (raw.providers !== undefined) {
    if (!Array.isArray(raw.providers)) merged.providers = raw.providers;
    else {
      const list: unknown[] = [...baseProviders];
      for (const entry of raw.providers as unknown[]) {
        const at = isRecord(entry) ? baseProviders.findIndex((p) => isRecord(p) && p.slug === entry.slug) : -1;
        const known = at >= 0 ? baseProviders[at] : undefined;
        if (!isRecord(entry) || !isRecord(known)) {
          list.push(entry);
          continue;
        }
        const profile = isRecord(entry.profile) && isRecord(known.profile) ? { ...known.profile, ...entry.profile } : (entry.profile ?? known.profile);
        list[at] = { ...known, ...entry, profile };
      }
      merged.providers = list;
    }
  }
  return merged;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

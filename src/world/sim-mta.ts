/**
 * A Postfix-like SMTP server for one simulated MX host, over raw `net` (and `tls` after STARTTLS).
 * It answers with the real Postfix texts (SMTP-FACTS.md) and keeps Postfix's session rules:
 * error counting with the soft limit (every reply delayed) and the hard limit (421 + close), junk
 * command limit, recipient limit, pipelining synchronisation (Postfix ≥ 3.7.6: input already
 * buffered behind a command that may not be pipelined → 554 5.5.0 and close), postscreen's
 * pregreet test, postgrey greylisting, DNSBL policy blocks and injected faults.
 *
 * Order of RCPT checks, like a typical Postfix configuration (smtpd_delay_reject=yes,
 * reject_rbl_client, reject_unauth_destination, check_policy_service for postgrey, then the
 * implicit reject_unlisted_recipient at the end): limits/faults, DNSBL, null-MX domain, relay,
 * greylisting, mailbox lookup. So a greylisting host greylists unknown users too.
 *
 * Provider-like hosts (host-rules.ts) add, in this order at RCPT: rate limits (anvil checks before
 * any restriction), the sender-reputation block, the per-transaction RCPT count, then the usual
 * checks with the host's own reply wording and `acceptAll`. A 421 from any rule closes the session.
 * Hosts of one operator share per-client state and counters (client-ledger.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import { domainToASCII } from 'node:url';
import type { MtaBehaviour, WorldSpec } from './world-spec.ts';
import { domainsServedBy } from './world-spec.ts';
import { newOperatorState, type OperatorState } from './client-ledger.ts';
import { greetingDate, renderReply, replyCode, type RateLimitRule, type ReplyTemplate, type TemplateVars } from './host-rules.ts';

export interface MtaStats {
  /** TCP sessions accepted (refused ones by the connection limit included). */
  sessionsOpened: number;
  currentSessions: number;
  maxConcurrentSessions: number;
  /** RCPT commands received. */
  rcptCount: number;
  /** Commands received, by upper-case verb ("INVALID" for garbage). */
  commands: Record<string, number>;
  /** DATA commands received: a prober must never send one. */
  dataSeen: number;
  /** Replies delayed because the session reached the soft error limit. */
  penalties: number;
  /** Sessions closed with 421 because they reached the hard error limit. */
  hardLimitHits: number;
  /** Commands pipelined where Postfix forbids it (554 5.5.0 + close). */
  syncViolations: number;
  /** Clients that talked before the final 220 greeting. */
  pregreetViolations: number;
  /** RCPTs answered 450 greylisted. */
  greylisted: number;
  /** Connections refused with 421 by maxConnectionsPerClient. */
  connectionLimitHits: number;
  /** Sessions dropped or closed by the dropAfterRcpts / closeAfterRcpts faults. */
  faultDrops: number;
  faultCloses: number;
  /** Successful STARTTLS handshakes. */
  tlsHandshakes: number;
  /** Replies that carried the block rule's reply (see OperatorStats for the operator-wide figures). */
  blocksServed: number;
  /** Replies of a rate limit (connection, MAIL or RCPT). */
  rateLimited: number;
  /** RCPTs refused with tooManyRecipients (recipientLimit or rcptsPerTransaction). */
  tooManyRecipients: number;
}

export interface TranscriptEvent {
  host: string;
  /** Session number on this host, from 1. */
  session: number;
  /** 'C' client → server line, 'S' server → client line, '*' event (connect, close, TLS, fault). */
  direction: 'C' | 'S' | '*';
  line: string;
}

export interface SimMtaOptions {
  /** Port to listen on (on the host's own IP); 0/absent = a free one. */
  port?: number;
  /** Certificate for STARTTLS; without it STARTTLS is never advertised. */
  tls?: { cert: string | Buffer; key: string | Buffer } | null;
  onTranscript?: (event: TranscriptEvent) => void;
  /** Clock for greylisting, rate windows and blocks (ms). Default Date.now. */
  now?: () => number;
  /** State shared with the other hosts of this host's operator; default: the host's own. */
  operator?: OperatorState;
}

export interface SimMta {
  hostname: string;
  ip: string;
  /** Every address it listens on: ip and the extra ones. */
  ips: string[];
  /** The listening port (the requested one when the host refuses connections). */
  port: number;
  behaviour: MtaBehaviour;
  stats: MtaStats;
  stop(): Promise<void>;
}

export function emptyMtaStats(): MtaStats {
  return {
    sessionsOpened: 0,
    currentSessions: 0,
    maxConcurrentSessions: 0,
    rcptCount: 0,
    commands: {},
    dataSeen: 0,
    penalties: 0,
    hardLimitHits: 0,
    syncViolations: 0,
    pregreetViolations: 0,
    greylisted: 0,
    connectionLimitHits: 0,
    faultDrops: 0,
    faultCloses: 0,
    tlsHandshakes: 0,
    blocksServed: 0,
    rateLimited: 0,
    tooManyRecipients: 0,
  };
}

/** Longest command line accepted before the session is closed (Postfix: line_length_limit 2048). */
const MAX_LINE_BYTES = 4096;
/** RFC 2920 §3.1: only these may be followed by more commands in one group. */
const PIPELINABLE = new Set(['MAIL', 'RCPT', 'RSET']);
const JUNK = new Set(['RSET', 'NOOP', 'VRFY', 'HELO', 'EHLO']);

interface World {
  hostname: string;
  ip: string;
  behaviour: MtaBehaviour;
  served: ReadonlySet<string>;
  spec: WorldSpec;
  stats: MtaStats;
  secureContext: tls.SecureContext | null;
  greylist: Map<string, number>;
  sessionsByClient: Map<string, number>;
  operator: OperatorState;
  now: () => number;
  emit: (event: TranscriptEvent) => void;
}

export async function startSimMta(spec: WorldSpec, hostname: string, options: SimMtaOptions = {}): Promise<SimMta> {
  const host = spec.mxHosts[hostname];
  if (host === undefined) throw new Error(`startSimMta: ${hostname} is not an MX host of the world`);
  const onTranscript = options.onTranscript;
  const now = options.now ?? Date.now;
  const world: World = {
    hostname,
    ip: host.ip,
    behaviour: host.behaviour,
    served: domainsServedBy(spec, hostname),
    spec,
    stats: emptyMtaStats(),
    secureContext: options.tls ? tls.createSecureContext({ cert: options.tls.cert, key: options.tls.key }) : null,
    greylist: new Map(),
    sessionsByClient: new Map(),
    operator: options.operator ?? newOperatorState(hostname, [hostname], now),
    now,
    emit: onTranscript ? (e) => onTranscript(e) : () => undefined,
  };
  const requestedPort = options.port ?? 0;
  if (host.behaviour.refuse) {
    // Nothing listens on this IP: connections are refused by the kernel.
    return { hostname, ip: host.ip, ips: [host.ip, ...host.extraIps], port: requestedPort, behaviour: host.behaviour, stats: world.stats, stop: async () => undefined };
  }
  const sessions = new Set<Session>();
  let counter = 0;
  const onConnection = (socket: net.Socket): void => {
    // Replies go out as they are made, as from a real MTA that flushes per reply group: without
    // this, Nagle + the client's delayed ACK stall pipelined replies by ~40 ms each window.
    socket.setNoDelay(true);
    const session = new Session(world, ++counter, socket);
    sessions.add(session);
    socket.once('close', () => sessions.delete(session));
    session.start();
  };
  // One server per address, all on the port of the first (like one MTA bound to several IPs).
  const servers: net.Server[] = [];
  const close = (): Promise<void> =>
    Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => {
      for (const s of sessions) s.destroy();
    });
  let port = requestedPort;
  try {
    for (const ip of [host.ip, ...host.extraIps]) {
      const server = net.createServer(onConnection);
      port = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host: ip, exclusive: true }, () => {
          server.off('error', reject);
          const address = server.address();
          resolve(typeof address === 'object' && address !== null ? address.port : port);
        });
      });
      servers.push(server);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    hostname,
    ip: host.ip,
    ips: [host.ip, ...host.extraIps],
    port,
    behaviour: host.behaviour,
    stats: world.stats,
    stop: () => {
      const stopped = close();
      for (const s of sessions) s.destroy();
      return stopped;
    },
  };
}

class Session {
  private socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private busy = false;
  private closed = false;
  private countedOut = false;
  private greeted = false;
  /** Greeting was not 220: only QUIT is served. */
  private rejected = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly client: string;
  private helo: 'HELO' | 'EHLO' | null = null;
  private pipelining = false;
  private tlsActive = false;
  private mailFrom: string | null = null;
  private mailSmtputf8 = false;
  private rcptAccepted = 0;
  /** RCPTs of the current transaction, whatever their answer (rcptsPerTransaction). */
  private rcptInTransaction = 0;
  private rcptSeen = 0;
  /** Per-session token in provider replies ({sid}), like Gmail's "f188si464031wme.109". */
  private readonly sid: string;
  private errorCount = 0;
  private junkCount = 0;

  constructor(
    private readonly w: World,
    private readonly id: number,
    socket: net.Socket,
  ) {
    this.socket = socket;
    this.client = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    this.sid = `${id.toString(36)}si${(w.now() % 1e9).toString(36)}.${id % 1000}`;
  }

  start(): void {
    const { stats, behaviour, operator } = this.w;
    stats.sessionsOpened++;
    stats.currentSessions++;
    stats.maxConcurrentSessions = Math.max(stats.maxConcurrentSessions, stats.currentSessions);
    const shared = operator.stats;
    shared.sessionsOpened++;
    shared.currentSessions++;
    shared.maxConcurrentSessions = Math.max(shared.maxConcurrentSessions, shared.currentSessions);
    if (behaviour.block !== null && operator.ledger.isBlocked(this.client)) shared.sessionsWhileBlocked++;
    const perClient = (this.w.sessionsByClient.get(this.client) ?? 0) + 1;
    this.w.sessionsByClient.set(this.client, perClient);
    this.event(`connect from [${this.client}]`);
    this.socket.once('close', () => {
      this.closed = true;
      for (const t of this.timers) clearTimeout(t);
      this.countOut();
      this.event('disconnect');
    });
    this.socket.on('error', () => this.destroy());
    this.attach(this.socket);

    if (perClient > behaviour.maxConnectionsPerClient) {
      // anvil: smtpd_client_connection_count_limit.
      stats.connectionLimitHits++;
      this.send([`421 4.7.0 ${this.w.hostname} Error: too many connections from ${this.client}`]);
      this.end();
      return;
    }
    const limited = this.overRateLimit('connection');
    if (limited !== null) {
      // Answered before the greeting, like Postfix's smtpd_client_connection_rate_limit.
      this.send(renderReply(limited.reply, this.vars()));
      this.end();
      return;
    }
    if (behaviour.silent) {
      this.event('silent: no greeting');
      return;
    }
    void this.greet();
  }

  destroy(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.socket.destroy();
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      void this.pump();
    });
  }

  private async greet(): Promise<void> {
    const { behaviour } = this.w;
    if (behaviour.greetingTeaserMs > 0) {
      // postscreen: a "220-" teaser, then wait to see whether the client talks too early.
      this.send([`220-${this.w.hostname} ESMTP Postfix`]);
      await this.sleep(behaviour.greetingTeaserMs);
    }
    if (behaviour.replyDelayMs > 0) await this.sleep(behaviour.replyDelayMs);
    if (this.closed) return;
    if (this.buffer.length > 0) {
      this.w.stats.pregreetViolations++;
      this.event('pregreet violation: client talked before the greeting');
      this.send(['554 5.5.1 Error: no SMTP service here']);
      this.end();
      return;
    }
    this.greeted = true;
    this.rejected = !behaviour.greeting.startsWith('220');
    this.send(renderReply(behaviour.greeting, this.vars()));
  }

  /** The placeholders of this session's replies (host-rules.ts). */
  private vars(extra: TemplateVars = {}): TemplateVars {
    return { host: this.w.hostname, client: this.client, sid: this.sid, date: greetingDate(this.w.now()), sender: this.mailFrom ?? '', ...extra };
  }

  /** Counts one event against the host's rate limits of this kind; the rule it breaks, or null. */
  private overRateLimit(count: RateLimitRule['count']): RateLimitRule | null {
    const { behaviour, operator, stats } = this.w;
    let broken: RateLimitRule | null = null;
    for (const rule of behaviour.rateLimits) {
      if (rule.count !== count) continue;
      // Hosts of one operator with the same rule share its count: one window per client, provider-wide.
      const seen = operator.ledger.countInWindow(`${count}|${rule.max}|${rule.windowMs}|${this.client}`, rule.windowMs);
      if (seen > rule.max) broken ??= rule;
    }
    if (broken !== null) {
      stats.rateLimited++;
      operator.stats.rateLimited++;
      this.event(`rate limit: too many ${count === 'connection' ? 'connections' : `${count.toUpperCase()} commands`} from ${this.client}`);
    }
    return broken;
  }

  /** A reply from a template; a 421 ends the session, as every real server does after it. */
  private async replyWith(template: ReplyTemplate, extra: TemplateVars = {}): Promise<void> {
    await this.reply(renderReply(template, this.vars(extra)));
    if (replyCode(template) === 421) this.end();
  }

  /** Whether this client is blocked now; a block reply served counts in the host's and operator's figures. */
  private blockedNow(): boolean {
    return this.w.behaviour.block !== null && this.w.operator.ledger.isBlocked(this.client);
  }

  private async serveBlock(): Promise<void> {
    const { behaviour, operator, stats } = this.w;
    if (behaviour.block === null) return;
    stats.blocksServed++;
    operator.stats.blocksServed++;
    operator.stats.firstBlockAt ??= this.w.now();
    await this.replyWith(behaviour.block.reply);
  }

  private async pump(): Promise<void> {
    if (this.busy || !this.greeted) return;
    this.busy = true;
    try {
      while (!this.closed) {
        const nl = this.buffer.indexOf(0x0a);
        if (nl < 0) {
          if (this.buffer.length > MAX_LINE_BYTES) {
            this.send(['500 5.5.2 Error: line too long']);
            this.end();
          }
          break;
        }
        const line = this.buffer
          .subarray(0, nl)
          .toString('utf8')
          .replace(/\r$/, '');
        this.buffer = this.buffer.subarray(nl + 1);
        // Postfix's check: is more input already waiting behind this command?
        const pending = this.buffer.length > 0;
        this.w.emit({ host: this.w.hostname, session: this.id, direction: 'C', line });
        await this.command(line, pending);
      }
    } finally {
      this.busy = false;
    }
  }

  private async command(line: string, pending: boolean): Promise<void> {
    const { behaviour, stats, hostname } = this.w;
    const space = line.indexOf(' ');
    const rawVerb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const verb = /^[A-Z]{1,12}$/.test(rawVerb) ? rawVerb : 'INVALID';
    const arg = space < 0 ? '' : line.slice(space + 1).trim();
    stats.commands[verb] = (stats.commands[verb] ?? 0) + 1;

    if (this.errorCount >= behaviour.hardErrorLimit) {
      stats.hardLimitHits++;
      await this.reply(`421 4.7.0 ${hostname} Error: too many errors`);
      this.end();
      return;
    }
    if (pending && (!this.pipelining || !PIPELINABLE.has(verb))) {
      // RFC 2920: commands may only be pipelined after PIPELINING was advertised, and never
      // behind EHLO/HELO, DATA, QUIT, NOOP, STARTTLS... Postfix ≥ 3.7.6 disconnects such clients.
      stats.syncViolations++;
      this.event(`improper command pipelining after ${verb}`);
      this.send(['554 5.5.0 Error: SMTP protocol synchronization']);
      this.end();
      return;
    }
    if (JUNK.has(verb) && ++this.junkCount > behaviour.junkCommandLimit) this.errorCount++;
    if (verb === 'DATA') {
      stats.dataSeen++;
      this.w.operator.stats.dataSeen++;
    }
    if (verb === 'RCPT') {
      stats.rcptCount++;
      this.w.operator.stats.rcptCount++;
    }

    if (this.rejected) {
      if (verb === 'QUIT') return this.quit();
      return this.reply('503 5.5.0 Error: this server does not accept mail from you');
    }
    switch (verb) {
      case 'EHLO':
      case 'HELO':
        return this.hello(verb, arg);
      case 'STARTTLS':
        return this.starttls(arg);
      case 'MAIL':
        return this.mail(arg);
      case 'RCPT':
        return this.rcpt(arg);
      case 'RSET':
        this.resetTransaction();
        return this.reply('250 2.0.0 Ok');
      case 'NOOP':
        return this.reply('250 2.0.0 Ok');
      case 'VRFY':
        return this.reply('502 5.5.1 VRFY command is disabled');
      case 'DATA':
        // Recorded above as a violation: list-hygiene must never send DATA.
        return this.reply('554 5.5.1 Error: no valid recipients');
      case 'QUIT':
        return this.quit();
      default:
        return this.reply('502 5.5.2 Error: command not recognized');
    }
  }

  private async hello(verb: 'EHLO' | 'HELO', arg: string): Promise<void> {
    const { behaviour, hostname } = this.w;
    if (arg === '') return this.reply(`501 Syntax: ${verb} hostname`);
    this.resetTransaction();
    this.helo = verb;
    if (verb === 'HELO') {
      this.pipelining = false;
      return this.reply(`250 ${hostname}`);
    }
    this.pipelining = behaviour.pipelining;
    const ext = [renderReply(behaviour.replies.ehlo, this.vars())[0] ?? hostname];
    if (behaviour.pipelining) ext.push('PIPELINING');
    ext.push('SIZE 10240000');
    if (this.starttlsAvailable()) ext.push('STARTTLS');
    ext.push('ENHANCEDSTATUSCODES', '8BITMIME', 'DSN');
    if (behaviour.smtputf8) ext.push('SMTPUTF8');
    return this.reply(ext.map((e, i) => `250${i === ext.length - 1 ? ' ' : '-'}${e}`));
  }

  private starttlsAvailable(): boolean {
    return this.w.behaviour.starttls && this.w.secureContext !== null && !this.tlsActive;
  }

  private async starttls(arg: string): Promise<void> {
    if (this.tlsActive) return this.reply('554 5.5.1 Error: TLS already active');
    if (!this.starttlsAvailable()) return this.reply('502 5.5.1 Error: command not implemented');
    if (arg !== '') return this.reply('501 5.5.4 Syntax: STARTTLS');
    await this.reply('220 2.0.0 Ready to start TLS');
    if (this.closed || this.w.secureContext === null) return;
    // RFC 3207 §4.2: forget everything learned before the handshake, buffered input included.
    this.buffer = Buffer.alloc(0);
    this.helo = null;
    this.pipelining = false;
    this.resetTransaction();
    const raw = this.socket;
    raw.removeAllListeners('data');
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.w.secureContext });
    this.socket = secure;
    this.tlsActive = true;
    secure.on('error', () => this.destroy());
    secure.once('secure', () => {
      this.w.stats.tlsHandshakes++;
      this.event('TLS established');
    });
    this.attach(secure);
  }

  private async mail(arg: string): Promise<void> {
    const { behaviour } = this.w;
    if (this.helo === null) return this.reply('503 5.5.1 Error: send HELO/EHLO first');
    if (this.mailFrom !== null) return this.reply('503 5.5.1 Error: nested MAIL command');
    const m = /^FROM:\s*<([^<>]*)>\s*(.*)$/i.exec(arg);
    if (!m) return this.reply('501 5.5.4 Syntax: MAIL FROM:<address>');
    const params = (m[2] ?? '').split(/\s+/).filter((p) => p !== '');
    let smtputf8 = false;
    for (const p of params) {
      const key = p.split('=')[0]?.toUpperCase() ?? '';
      if (key === 'SMTPUTF8') {
        if (!behaviour.smtputf8 || this.helo !== 'EHLO') return this.reply('555 5.5.4 Unsupported option: SMTPUTF8');
        smtputf8 = true;
      } else if (!['SIZE', 'BODY', 'RET', 'ENVID'].includes(key)) {
        return this.reply(`555 5.5.4 Unsupported option: ${p}`);
      }
    }
    const sender = m[1] ?? '';
    // RFC 6531 §3.4: a non-ASCII address needs the SMTPUTF8 parameter.
    if (!smtputf8 && /[^\x00-\x7f]/.test(sender)) return this.reply('553 5.6.7 Must declare SMTPUTF8 to send unicode address');
    if (this.blockedNow() && behaviour.block?.stage === 'MAIL') return this.serveBlock();
    const limited = this.overRateLimit('mail');
    if (limited !== null) return this.replyWith(limited.reply);
    this.mailFrom = sender;
    this.mailSmtputf8 = smtputf8;
    return this.replyWith(behaviour.replies.mailOk, { sender });
  }

  private async rcpt(arg: string): Promise<void> {
    const { behaviour, stats, hostname, spec } = this.w;
    if (this.mailFrom === null) return this.reply('503 5.5.1 Error: need MAIL command');
    const m = /^TO:\s*<([^<>]*)>\s*(.*)$/i.exec(arg);
    if (!m) return this.reply('501 5.5.4 Syntax: RCPT TO:<address>');
    this.rcptSeen++;
    if (behaviour.dropAfterRcpts !== null && this.rcptSeen > behaviour.dropAfterRcpts) {
      stats.faultDrops++;
      this.event(`fault: dropping the connection after ${behaviour.dropAfterRcpts} RCPT`);
      this.destroy();
      return;
    }
    if (behaviour.closeAfterRcpts !== null && this.rcptSeen > behaviour.closeAfterRcpts) {
      stats.faultCloses++;
      await this.reply(`421 4.7.0 ${hostname} Error: too many recipients from this client, try again later`);
      this.end();
      return;
    }
    const limited = this.overRateLimit('rcpt');
    if (limited !== null) return this.replyWith(limited.reply, { rcpt: m[1] ?? '' });
    if (behaviour.block !== null) {
      if (this.blockedNow()) {
        this.w.operator.stats.rcptsWhileBlocked++;
        return this.serveBlock();
      }
      // Sender reputation: after afterRcpts RCPTs from this client (operator-wide), the client is blocked.
      const listed = behaviour.block.clients === null || behaviour.block.clients.includes(this.client);
      if (listed && this.w.operator.ledger.countTowardsBlock(this.client, behaviour.block.windowMs) > behaviour.block.afterRcpts) {
        this.w.operator.ledger.block(this.client, behaviour.block.durationMs);
        this.event(`block: ${this.client} is blocked`);
        return this.serveBlock();
      }
    }
    this.rcptInTransaction++;
    const overTransaction = behaviour.rcptsPerTransaction !== null && this.rcptInTransaction > behaviour.rcptsPerTransaction;
    if (overTransaction || this.rcptAccepted >= behaviour.recipientLimit) {
      stats.tooManyRecipients++;
      return this.replyWith(behaviour.replies.tooManyRecipients, { rcpt: m[1] ?? '', limit: String(behaviour.rcptsPerTransaction ?? behaviour.recipientLimit) });
    }
    const rcpt = m[1] ?? '';
    const at = rcpt.lastIndexOf('@');
    if (at <= 0 || at === rcpt.length - 1) return this.reply('501 5.1.3 Bad recipient address syntax');
    const local = rcpt.slice(0, at);
    const domain = domainToASCII(rcpt.slice(at + 1).toLowerCase()) || rcpt.slice(at + 1).toLowerCase();
    if (!this.mailSmtputf8 && /[^\x00-\x7f]/.test(rcpt)) return this.reply('553 5.6.7 Must declare SMTPUTF8 to send unicode address');

    if (behaviour.policyBlock !== null) {
      return this.reply(`554 5.7.1 Service unavailable; Client host [${this.client}] blocked using ${behaviour.policyBlock}`);
    }
    const d = spec.domains[domain];
    if (d?.nullMx) return this.reply(`556 5.1.10 <${rcpt}>: Recipient address rejected: Domain ${domain} does not accept mail (nullMX)`);
    if (d === undefined || !this.w.served.has(domain)) return this.reply(`554 5.7.1 <${rcpt}>: Relay access denied`);
    if (behaviour.greylistDelayMs > 0) {
      // postgrey: triplet (client /24, sender, recipient); retry accepted once the delay has passed.
      const net24 = this.client.replace(/\.\d+$/, '');
      const key = `${net24}|${(this.mailFrom ?? '').toLowerCase()}|${rcpt.toLowerCase()}`;
      const now = this.w.now();
      const first = this.w.greylist.get(key);
      if (first === undefined) this.w.greylist.set(key, now);
      if (first === undefined || now - first < behaviour.greylistDelayMs) {
        stats.greylisted++;
        return this.reply(`450 4.2.0 <${rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/${domain}.html`);
      }
    }
    const lp = local.toLowerCase();
    const has = (list: readonly string[]): boolean => list.some((x) => x.toLowerCase() === lp);
    const vars = { rcpt, local, domain };
    const { replies } = behaviour;
    // A host that accepts every RCPT (Yahoo, most gateways) says 250 before it knows the mailbox.
    if (!behaviour.acceptAll && has(d.throttled)) return this.replyWith(replies.recipientThrottled, vars);
    if (!behaviour.acceptAll && has(d.disabled)) return this.replyWith(replies.mailboxDisabled, vars);
    if (!behaviour.acceptAll && has(d.full)) return this.replyWith(replies.mailboxFull, vars);
    if (behaviour.acceptAll || d.catchAll || has(d.mailboxes)) {
      this.rcptAccepted++;
      return this.replyWith(replies.rcptOk, vars);
    }
    return this.replyWith(replies.unknownUser, vars);
  }

  private async quit(): Promise<void> {
    await this.reply(renderReply(this.w.behaviour.replies.quit, this.vars()));
    this.end();
  }

  private resetTransaction(): void {
    this.mailFrom = null;
    this.mailSmtputf8 = false;
    this.rcptAccepted = 0;
    this.rcptInTransaction = 0;
  }

  /**
   * Every reply goes through here: a 4xx/5xx counts as an error; from the soft limit on every
   * reply (not only errors) is delayed, like Postfix's smtpd_chat_reply().
   */
  private async reply(lines: string | string[]): Promise<void> {
    const all = typeof lines === 'string' ? [lines] : lines;
    const code = Number(all[0]?.slice(0, 3));
    const { behaviour, stats } = this.w;
    if (code >= 400) this.errorCount++;
    if (this.errorCount >= behaviour.softErrorLimit && behaviour.errorSleepMs > 0) {
      stats.penalties++;
      await this.sleep(behaviour.errorSleepMs);
    }
    if (behaviour.replyDelayMs > 0) await this.sleep(behaviour.replyDelayMs);
    this.send(all);
  }

  private send(lines: string[]): void {
    if (this.closed || this.socket.destroyed) return;
    for (const line of lines) this.w.emit({ host: this.w.hostname, session: this.id, direction: 'S', line });
    this.socket.write(lines.map((l) => `${l}\r\n`).join(''));
  }

  /**
   * The session stops counting towards the concurrent-session figures when the server ends it (after
   * 221 or a 421), like Postfix's smtpd reporting the disconnect to anvil, or when the socket closes.
   */
  private countOut(): void {
    if (this.countedOut) return;
    this.countedOut = true;
    this.w.stats.currentSessions--;
    this.w.operator.stats.currentSessions--;
    const n = (this.w.sessionsByClient.get(this.client) ?? 1) - 1;
    if (n <= 0) this.w.sessionsByClient.delete(this.client);
    else this.w.sessionsByClient.set(this.client, n);
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    this.countOut();
    this.socket.end();
    // Do not wait for the client's FIN forever.
    const t = setTimeout(() => this.socket.destroy(), 1000);
    t.unref();
  }

  private event(line: string): void {
    this.w.emit({ host: this.w.hostname, session: this.id, direction: '*', line });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

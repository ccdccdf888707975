/**
 * One SMTP client connection to one MX: connect, greeting, EHLO (HELO fallback), optional
 * STARTTLS, then `exchange()` for MAIL/RCPT/RSET groups, then QUIT. It never sends DATA.
 *
 * The protocol is an explicit queue of expected replies (STYLE.md, like nodemailer's
 * `_responseActions`): every command written pushes one handler; every complete reply from the
 * server shifts one. A reply with no handler waiting is a protocol error, except an unsolicited 421
 * (RFC 5321 §3.8: the server may announce it is closing at any time). Any failure — socket error,
 * close, timeout, protocol error, 421 — ends the session: the socket is destroyed, the timer
 * cleared, and every waiting handler is rejected with the same coded error. Nothing is left running.
 *
 * Replies out of step (SMTP_DESYNC): matching replies to a pipelined group by count is only right if
 * the server answers each command once, in order. A reply that cannot be its command's
 * (reply-sequence.ts), a reply or bytes no command waits for, or a pipelined group left part-answered
 * at the timeout end the session with SMTP_DESYNC, and the group's replies are not returned. A group
 * counts as answered only after everything already received was read (one event-loop turn), and
 * settle() gives late extras a round trip to show up.
 */
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { SmtpReply } from '../domain/smtp-reply.ts';
import { replyToText } from '../domain/smtp-reply.ts';
import { HygieneError, isHygieneError, isSmtpError, type SmtpError, type SmtpErrorCode, type SmtpFailureContext } from '../errors.ts';
import { ReplyParser } from './reply-parser.ts';
import { commandAddress, replyMisfit } from './reply-sequence.ts';
import { directConnector, type SmtpConnector } from './smtp-connector.ts';
import { assertSafeCommandLine, commandVerb, ehlo, helo, quit as quitCommand, starttls } from './smtp-commands.ts';

export interface SmtpTimeouts {
  /** TCP connect (through a proxy: the proxy's handshake and its connect to the MX too). Default 10 s. */
  connectMs: number;
  /** From connected to the final line of the 220 greeting. Default 30 s (RFC 5321 §4.5.3.2.1 says 5 min). */
  greetingMs: number;
  /** Per reply: from sending a command (or receiving the previous reply of a group) to its reply;
   * also bounds the TLS handshake. Default 30 s. */
  commandMs: number;
}

export const DEFAULT_SMTP_TIMEOUTS: Readonly<SmtpTimeouts> = Object.freeze({
  connectMs: 10_000,
  greetingMs: 30_000,
  commandMs: 30_000,
});

export interface TranscriptEntry {
  direction: 'client' | 'server' | 'info';
  /** One command line (no CRLF), one complete reply (its `raw`), or a note from us. */
  text: string;
  /** Milliseconds since `SmtpSession.open` was called. */
  atMs: number;
}

export interface SmtpSessionOptions {
  /** IP or hostname to connect to (the engine passes an IP it resolved). */
  host: string;
  port: number;
  /** MX hostname, for TLS SNI and logs. */
  serverName: string;
  /** EHLO/HELO name: a FQDN or an address literal. Checked before connecting. */
  heloName: string;
  /** Optional source address to bind (direct connections, when no connector is given). */
  localAddress?: string;
  /**
   * How the connection is made: directly (the default, from localAddress) or through a SOCKS5 proxy
   * (socks5-connector.ts). STARTTLS then runs over whatever socket it returns.
   */
  connector?: SmtpConnector;
  /**
   * Send MAIL/RCPT/RSET groups without waiting when the server advertises PIPELINING. Default true;
   * the pool turns it off for a host whose replies fell out of step (SMTP_DESYNC).
   */
  pipelining?: boolean;
  /**
   * 'opportunistic': STARTTLS when advertised, certificate not checked (as Postfix's "may": MX
   * certificates are often self-signed, and unverified TLS is still better than none);
   * 'required': STARTTLS or fail, and the certificate must verify like MTA-STS "enforce" (RFC 8461
   * §4.2): a chain to a trusted CA and the MX host name in it (RFC 6125: SAN dNSName, a wildcard
   * only as the whole leftmost label); 'off': never.
   */
  tls: 'opportunistic' | 'required' | 'off';
  /** With tls 'required': CA certificates (PEM) trusted on top of the system's (a private CA). */
  tlsCa?: string;
  timeouts: SmtpTimeouts;
  onTranscript?: (entry: TranscriptEntry) => void;
}

/** Why an exchange failed, with the replies that did arrive (in command order) before it failed. */
export class SmtpExchangeError extends HygieneError<SmtpErrorCode> {
  readonly answered: SmtpReply[];

  constructor(
    code: SmtpErrorCode,
    message: string,
    answered: SmtpReply[],
    context: SmtpFailureContext = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options);
    this.name = 'SmtpExchangeError';
    this.answered = answered;
  }
}

/** RFC 2920 §3.1: these may appear anywhere in a pipelined group; anything else only last. */
const GROUPABLE = new Set(['MAIL', 'RCPT', 'RSET']);

interface ExpectedReply {
  /** The command line this reply answers ('<greeting>' for the banner). */
  command: string;
  /** The group it was written in: how many commands, how many answered so far. */
  group: { size: number; answered: number };
  timeoutMs: number;
  onReply: (reply: SmtpReply) => void;
  onFail: (err: SmtpError) => void;
}

const noop = (): void => {};

export class SmtpSession {
  /** Upper-case EHLO keywords, e.g. PIPELINING, SMTPUTF8, SIZE, 8BITMIME. Empty after HELO. */
  get extensions(): ReadonlySet<string> {
    return this._extensions;
  }
  /** True only if EHLO (not HELO) advertised PIPELINING (RFC 2920 §3). */
  get supportsPipelining(): boolean {
    return this.options.pipelining !== false && this.usedEhlo && this._extensions.has('PIPELINING');
  }
  get supportsSmtputf8(): boolean {
    return this.usedEhlo && this._extensions.has('SMTPUTF8');
  }
  get tlsActive(): boolean {
    return this._tlsActive;
  }
  get greeting(): SmtpReply {
    return this._greeting;
  }
  /** The last EHLO (or HELO) reply: its first line often shows the address the server sees us at. */
  get helloReply(): SmtpReply | undefined {
    return this._helloReply;
  }
  /** Command lines written to the socket (EHLO and QUIT included). */
  get commandsSent(): number {
    return this._commandsSent;
  }
  /** Times we waited for the server: connect+greeting = 1, each command or pipelined group = 1. */
  get roundTrips(): number {
    return this._roundTrips;
  }
  get closed(): boolean {
    return this._closed;
  }
  /** Why the session ended (undefined while open). */
  get closeReason(): SmtpError | undefined {
    return this.failure;
  }

  private readonly options: SmtpSessionOptions;
  private readonly timeouts: SmtpTimeouts;
  private readonly startedAt: number;
  private socket: net.Socket;
  private parser = new ReplyParser();
  private readonly expected: ExpectedReply[] = [];
  private replyTimer: NodeJS.Timeout | undefined;
  private failure: SmtpError | undefined;
  private _closed = false;
  private _extensions = new Set<string>();
  private usedEhlo = false;
  private _tlsActive = false;
  private _greeting: SmtpReply = { code: 0, lines: [], raw: '' };
  private _helloReply: SmtpReply | undefined;
  private _commandsSent = 0;
  private _roundTrips = 0;
  /** Set when STARTTLS got its 220: stop reading plaintext; everything after it is discarded. */
  private upgrading = false;
  /** Serialises exchange() and quit() calls so groups never interleave on the wire. */
  private lane: Promise<unknown> = Promise.resolve();
  /** What the sequence checks know of this session (see reply-sequence.ts). */
  private mailFromSent: string | undefined;
  private mailReply: SmtpReply | undefined;
  private rcptAnsweredWith215 = false;
  /** How long the last group took, from writing it to its last reply. */
  private lastGroupMs = 0;

  private constructor(options: SmtpSessionOptions, timeouts: SmtpTimeouts, socket: net.Socket, startedAt: number) {
    this.options = options;
    this.timeouts = timeouts;
    this.startedAt = startedAt;
    this.socket = socket;
    this.attach(socket);
  }

  /**
   * Connect, read the greeting, EHLO (or HELO), STARTTLS when possible, EHLO again.
   * Rejects with HygieneError: SMTP_UNSAFE_INPUT (bad heloName, before connecting),
   * SMTP_CONNECT_FAILED, SMTP_TIMEOUT (context.phase 'connect' | 'greeting' | command),
   * SMTP_PROXY_UNREACHABLE, SMTP_PROXY_AUTH_FAILED, SMTP_PROXY_REFUSED (through a proxy),
   * SMTP_GREETING_REJECTED ({reply}), SMTP_EHLO_REJECTED ({reply}), SMTP_SERVICE_CLOSING,
   * SMTP_CLOSED, SMTP_PROTOCOL, SMTP_TLS_REQUIRED, SMTP_TLS_FAILED. The socket is closed on failure.
   */
  static async open(options: SmtpSessionOptions): Promise<SmtpSession> {
    const startedAt = performance.now();
    const timeouts: SmtpTimeouts = { ...DEFAULT_SMTP_TIMEOUTS, ...options.timeouts };
    ehlo(options.heloName); // throws SMTP_UNSAFE_INPUT before any network work
    const connector = options.connector ?? directConnector(options.localAddress);
    const socket = await connector.connect({ host: options.host, port: options.port, serverName: options.serverName }, timeouts.connectMs);
    const session = new SmtpSession(options, timeouts, socket, startedAt);
    session.note(`connected to ${options.serverName} [${options.host}]:${options.port}${connector.via === 'direct' ? '' : ` ${connector.via}`}`);
    try {
      await session.handshake();
      return session;
    } catch (err) {
      session.close();
      throw err;
    }
  }

  /**
   * Send commands and collect one reply per command, in order. With PIPELINING (after EHLO only)
   * MAIL/RCPT/RSET go out as one group, a final other command may close the group (RFC 2920 §3.1);
   * otherwise one command at a time. Every reply is returned, whatever its code: judging them is
   * the caller's job. Rejects with SmtpExchangeError (answered = replies received before the
   * failure): SMTP_SERVICE_CLOSING (context.reply is the 421), SMTP_CLOSED, SMTP_TIMEOUT,
   * SMTP_PROTOCOL, SMTP_UNSAFE_INPUT (nothing sent; the session stays usable).
   */
  exchange(commands: string[]): Promise<SmtpReply[]> {
    const run = this.lane.then(() => this.runExchange([...commands]));
    this.lane = run.catch(noop);
    return run;
  }

  /**
   * For a QUIT sent as the last command of an exchange() group (RFC 2920 allows it last): wait,
   * bounded, for the server to close the channel after its 221, then close ours. Never throws.
   */
  async closeAfterQuit(): Promise<void> {
    const run = this.lane.then(async () => {
      if (!this._closed) await this.serverClose(Math.min(this.timeouts.commandMs, 2_000));
      this.close();
    });
    this.lane = run.catch(noop);
    await run.catch(noop);
  }

  /** QUIT, wait up to commandMs for 221, then close. Never throws. */
  async quit(): Promise<void> {
    const run = this.lane.then(async () => {
      if (this._closed) return;
      try {
        await this.request([quitCommand()], this.timeouts.commandMs);
        // RFC 5321 §4.1.1.10: after 221 the server closes the channel. Waiting for its close (bounded)
        // before we drop ours means the server has counted this session as over before the pool
        // opens the next one, so "sessions per MX" stays within the limit from the server's view.
        await this.serverClose(Math.min(this.timeouts.commandMs, 2_000));
      } catch {
        // Best effort: whatever the server does, we close below.
      }
      this.close();
    });
    this.lane = run.catch(noop);
    await run.catch(noop);
  }

  /**
   * Waits two round trips (the last group's) plus 50 ms, at most 1 s, for anything the server sends
   * late after its last reply, which would fail the session as out of step (SMTP_DESYNC): the pool
   * calls it before it counts the last group's replies as final and lets the session idle. The 50 ms
   * cover a small second write held back by the server's Nagle algorithm until our delayed ACK
   * (Linux: up to 40 ms). Never throws.
   */
  async settle(): Promise<void> {
    const run = this.lane.then(async () => {
      if (this._closed) return;
      const socket = this.socket;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          socket.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(1_000, Math.round(2 * this.lastGroupMs) + 50));
        socket.once('close', done);
      });
    });
    this.lane = run.catch(noop);
    await run.catch(noop);
  }

  /** Destroy the socket immediately. Never throws. Idempotent. */
  close(): void {
    this.fail(new HygieneError('SMTP_CLOSED', 'The session was closed by this program.', this.context()));
  }

  private serverClose(timeoutMs: number): Promise<void> {
    const socket = this.socket;
    if (this._closed || socket.destroyed || socket.readableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        socket.off('end', done);
        socket.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      socket.once('end', done);
      socket.once('close', done);
    });
  }

  // ----------------------------------------------------------------------------------- handshake

  private async handshake(): Promise<void> {
    let greeting: SmtpReply | undefined;
    try {
      [greeting] = await this.expectReplies(['<greeting>'], this.timeouts.greetingMs);
    } catch (err) {
      if (!isHygieneError(err, 'SMTP_SERVICE_CLOSING') || !err.context.reply) throw err;
      const reply = err.context.reply;
      // "421 Service not available" as the greeting (RFC 5321 §3.1): the session is already closed.
      this._greeting = reply;
      throw new HygieneError('SMTP_GREETING_REJECTED', `The mail server refused the connection: ${replyToText(reply)}`, {
        ...this.context(),
        reply,
      });
    }
    if (!greeting) throw this.protocolError('No greeting.');
    this._greeting = greeting;
    if (greeting.code !== 220) {
      await this.quit();
      throw new HygieneError('SMTP_GREETING_REJECTED', `The mail server refused the connection: ${replyToText(greeting)}`, {
        ...this.context(),
        reply: greeting,
      });
    }
    await this.hello();
    if (this.options.tls === 'off') return;
    if (!this._extensions.has('STARTTLS')) {
      if (this.options.tls === 'required') {
        await this.quit();
        throw new HygieneError('SMTP_TLS_REQUIRED', 'The mail server does not offer STARTTLS and TLS is required.', this.context());
      }
      return;
    }
    const [reply] = await this.request([starttls()], this.timeouts.commandMs);
    if (!reply || reply.code !== 220) {
      if (this.options.tls === 'required') {
        await this.quit();
        throw new HygieneError('SMTP_TLS_FAILED', `The mail server refused STARTTLS: ${reply ? replyToText(reply) : ''}`, {
          ...this.context(),
          reply,
        });
      }
      this.note('STARTTLS refused; continuing without TLS');
      return;
    }
    await this.upgradeToTls();
    // RFC 3207 §4.2: forget everything learned before TLS and ask again.
    this._extensions = new Set();
    this.usedEhlo = false;
    await this.hello();
  }

  /** EHLO; on 500/502 (command not recognised/implemented) fall back to HELO (RFC 5321 §4.1.1.1). */
  private async hello(): Promise<void> {
    const [reply] = await this.request([ehlo(this.options.heloName)], this.timeouts.commandMs);
    this._helloReply = reply;
    if (reply && reply.code >= 200 && reply.code < 300) {
      this.usedEhlo = true;
      this._extensions = parseExtensions(reply);
      return;
    }
    if (reply && (reply.code === 500 || reply.code === 502)) {
      const [heloReply] = await this.request([helo(this.options.heloName)], this.timeouts.commandMs);
      this._helloReply = heloReply;
      if (heloReply && heloReply.code >= 200 && heloReply.code < 300) {
        this.usedEhlo = false;
        this._extensions = new Set();
        return;
      }
      await this.quit();
      throw new HygieneError('SMTP_EHLO_REJECTED', `The mail server refused HELO: ${heloReply ? replyToText(heloReply) : ''}`, {
        ...this.context(),
        command: 'HELO',
        reply: heloReply,
      });
    }
    await this.quit();
    throw new HygieneError('SMTP_EHLO_REJECTED', `The mail server refused EHLO: ${reply ? replyToText(reply) : ''}`, {
      ...this.context(),
      command: 'EHLO',
      reply,
    });
  }

  private upgradeToTls(): Promise<void> {
    const plain = this.socket;
    this.detach(plain);
    // Keep a listener so a late error on the plain socket can never become an uncaught exception.
    plain.on('error', noop);
    // RFC 3207 §6: discard anything the server sent after its 220 and before the handshake.
    this.parser = new ReplyParser();
    return new Promise<void>((resolve, reject) => {
      const serverName = this.options.serverName.replace(/\.$/, '');
      const verify = this.options.tls === 'required';
      const secure = tls.connect({
        socket: plain,
        servername: net.isIP(serverName) === 0 ? serverName : undefined,
        rejectUnauthorized: verify,
        // Node's `ca` replaces the system roots: keep them and add the configured ones.
        ...(verify && this.options.tlsCa ? { ca: [...tls.rootCertificates, this.options.tlsCa] } : {}),
        // The MX host name, not the IP we connected to (MTA-STS checks the name from the MX record).
        ...(verify ? { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(serverName, cert) } : {}),
      });
      this.socket = secure;
      let settled = false;
      const finish = (err?: SmtpError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.off('secureConnect', onSecure);
        secure.off('error', onError);
        secure.off('close', onClose);
        if (err) {
          secure.on('error', noop);
          secure.destroy();
          this.fail(err);
          reject(err);
          return;
        }
        this.upgrading = false;
        this._tlsActive = true;
        this.attach(secure);
        this.note(`TLS established (${secure.getProtocol() ?? 'unknown protocol'}, ${secure.getCipher()?.name ?? 'unknown cipher'})`);
        resolve();
      };
      const tlsFailed = (message: string, cause?: unknown, extra: SmtpFailureContext = {}): SmtpError =>
        new HygieneError('SMTP_TLS_FAILED', message, { ...this.context(), ...extra }, cause === undefined ? undefined : { cause });
      const onSecure = (): void => finish();
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.message.replace(/\s+/g, ' ').trim();
        if (verify && isCertificateError(err)) {
          finish(tlsFailed(`The TLS certificate of ${serverName} could not be verified (TLS is required, so it must chain to a trusted CA and name the MX host): ${why}`, err, { certificate: true, tlsError: err.code }));
          return;
        }
        finish(tlsFailed(`The TLS handshake failed: ${why}`, err));
      };
      const onClose = (): void => finish(tlsFailed('The connection closed during the TLS handshake.'));
      const timer = setTimeout(() => finish(tlsFailed(`The TLS handshake took longer than ${this.timeouts.commandMs} ms.`)), this.timeouts.commandMs);
      secure.once('secureConnect', onSecure);
      secure.on('error', onError);
      secure.once('close', onClose);
    });
  }

  // -------------------------------------------------------------------------------- exchange

  private async runExchange(commands: string[]): Promise<SmtpReply[]> {
    for (const line of commands) {
      try {
        assertSafeCommandLine(line);
        const verb = commandVerb(line);
        if (verb === 'STARTTLS' || verb === 'EHLO' || verb === 'HELO') {
          throw new HygieneError('SMTP_UNSAFE_INPUT', `${verb} is handled by SmtpSession.open, not exchange().`);
        }
      } catch (err) {
        const context = isSmtpError(err) ? err.context : {};
        throw new SmtpExchangeError('SMTP_UNSAFE_INPUT', (err as Error).message, [], { ...this.context(), ...context }, { cause: err });
      }
    }
    const answered: SmtpReply[] = [];
    for (const group of this.groups(commands)) {
      try {
        answered.push(...(await this.request(group, this.timeouts.commandMs)));
      } catch (err) {
        // request() rejects only with SmtpExchangeError (exchangeError); anything else is a bug, said as a protocol error.
        const e = err instanceof SmtpExchangeError ? err : new SmtpExchangeError('SMTP_PROTOCOL', String(err), [], this.context(), { cause: err });
        throw new SmtpExchangeError(e.code, e.message, [...answered, ...e.answered], { ...e.context }, { cause: e.cause });
      }
    }
    return answered;
  }

  /** Split commands into groups sent without waiting: one per command unless PIPELINING. */
  private groups(commands: string[]): string[][] {
    if (!this.supportsPipelining) return commands.map((c) => [c]);
    const groups: string[][] = [];
    let current: string[] = [];
    for (const command of commands) {
      current.push(command);
      if (!GROUPABLE.has(commandVerb(command))) {
        groups.push(current);
        current = [];
      }
    }
    if (current.length > 0) groups.push(current);
    return groups;
  }

  // ------------------------------------------------------------------------- reply machinery

  /** Write lines as one group and wait for one reply per line. Rejects with SmtpExchangeError. */
  private request(lines: string[], timeoutMs: number): Promise<SmtpReply[]> {
    for (const line of lines) assertSafeCommandLine(line); // last guard: never DATA/BDAT/CRLF
    const replies = this.expectReplies(lines, timeoutMs);
    for (const line of lines) {
      if (commandVerb(line) !== 'MAIL') continue;
      this.mailFromSent = commandAddress(line);
      this.mailReply = undefined;
    }
    if (!this._closed) {
      for (const line of lines) this.emit('client', line);
      this._commandsSent += lines.length;
      this.socket.write(lines.map((l) => `${l}\r\n`).join(''));
    }
    return replies;
  }

  /** Push one handler per label; resolve with all replies, or reject once with what arrived. */
  private expectReplies(labels: string[], timeoutMs: number): Promise<SmtpReply[]> {
    return new Promise<SmtpReply[]>((resolve, reject) => {
      const replies: SmtpReply[] = [];
      if (this._closed) {
        reject(this.exchangeError(this.failure, replies));
        return;
      }
      this._roundTrips += 1;
      let settled = false;
      const onFail = (err: SmtpError): void => {
        if (settled) return;
        settled = true;
        reject(this.exchangeError(err, replies));
      };
      const group = { size: labels.length, answered: 0 };
      const sentAt = performance.now();
      labels.forEach((command, index) => {
        this.expected.push({
          command,
          group,
          timeoutMs,
          onReply: (reply) => {
            replies.push(reply);
            group.answered += 1;
            if (index === labels.length - 1 && !settled) {
              settled = true;
              this.lastGroupMs = performance.now() - sentAt;
              // Read what has already arrived before the group counts as answered: a reply more
              // than we asked for (a doubled one) fails the session as out of step, and then none
              // of the group's replies may be used. setImmediate runs after libuv has read every
              // byte already received on the socket.
              setImmediate(() => {
                if (this.failure?.code === 'SMTP_DESYNC') reject(this.exchangeError(this.failure, replies));
                else resolve(replies);
              });
            }
          },
          onFail,
        });
      });
      if (labels.length === 0) resolve(replies);
      if (this.replyTimer === undefined) this.armTimer();
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this._closed || this.upgrading) return;
    let replies: SmtpReply[];
    try {
      replies = this.parser.push(chunk);
    } catch (err) {
      const coded = err instanceof HygieneError ? withContext(err, this.context()) : this.protocolError(String(err));
      // Bytes no command was waiting for (after a group was answered) are a sign of replies out of step.
      this.fail(this.expected.length === 0 ? this.desyncError(`it sent bytes no command was waiting for (${coded.message})`) : coded);
      return;
    }
    for (const reply of replies) {
      // After a failure or a STARTTLS 220, the rest of this chunk is not to be trusted.
      if (this._closed || this.upgrading) return;
      this.emit('server', reply.raw);
      this.dispatch(reply);
    }
  };

  private dispatch(reply: SmtpReply): void {
    if (reply.code === 421) {
      // RFC 5321 §3.8: the server is closing the channel; send nothing more. Every waiting
      // handler (this reply's included) is rejected with the 421 attached.
      const head = this.expected[0];
      this.fail(
        new HygieneError('SMTP_SERVICE_CLOSING', `The mail server is closing the connection: ${replyToText(reply)}`, {
          ...this.context(),
          command: head?.command,
          reply,
        }),
      );
      return;
    }
    const handler = this.expected.shift();
    if (!handler) {
      this.fail(this.desyncError(`it sent a reply no command was waiting for: ${replyToText(reply)}`, { reply }));
      return;
    }
    const misfit = replyMisfit(handler.command, reply, {
      mailFrom: this.mailFromSent,
      mailReply: this.mailReply,
      rcptAnsweredWith215: this.rcptAnsweredWith215,
      pipelined: handler.group.size > 1,
    });
    if (misfit) {
      // Back in the queue, so that its group is rejected with the others.
      this.expected.unshift(handler);
      this.fail(this.desyncError(misfit, { reply, command: handler.command }));
      return;
    }
    const verb = verbOf(handler.command);
    if (verb === 'MAIL') this.mailReply = reply;
    if (verb === 'RCPT' && reply.code < 300 && reply.enhanced?.endsWith('.1.5')) this.rcptAnsweredWith215 = true;
    if (verbOf(handler.command) === 'STARTTLS' && reply.code === 220) {
      // RFC 3207 §6: stop reading plaintext now; bytes already buffered are dropped in upgradeToTls.
      this.upgrading = true;
      if (this.parser.hasPartial) this.note('discarded bytes received after the STARTTLS reply');
    }
    this.armTimer();
    handler.onReply(reply);
  }

  private armTimer(): void {
    if (this.replyTimer !== undefined) clearTimeout(this.replyTimer);
    this.replyTimer = undefined;
    const head = this.expected[0];
    if (!head || this._closed) return;
    this.replyTimer = setTimeout(() => {
      this.replyTimer = undefined;
      const phase = head.command === '<greeting>' ? 'greeting' : verbOf(head.command);
      if (head.group.size > 1 && head.group.answered > 0) {
        // Some replies of a pipelined group came, then none: which command did the server skip?
        // Matching the ones that came by count could pin them on the wrong addresses.
        this.fail(this.desyncError(`only ${head.group.answered} of ${head.group.size} replies to a pipelined group arrived within ${head.timeoutMs} ms`, { phase, timeoutMs: head.timeoutMs }));
        return;
      }
      this.fail(
        new HygieneError('SMTP_TIMEOUT', `No reply from the mail server within ${head.timeoutMs} ms (${phase}).`, {
          ...this.context(),
          phase,
          command: head.command,
          timeoutMs: head.timeoutMs,
        }),
      );
    }, head.timeoutMs);
  }

  /** End the session once: destroy the socket, clear the timer, reject every waiting handler. */
  private fail(err: SmtpError): void {
    if (this._closed) return;
    this._closed = true;
    this.failure = err;
    if (this.replyTimer !== undefined) clearTimeout(this.replyTimer);
    this.replyTimer = undefined;
    this.detach(this.socket);
    this.socket.on('error', noop);
    this.socket.destroy();
    if (err.code !== 'SMTP_CLOSED' || this.expected.length > 0) this.note(`session ended: ${err.code}: ${err.message}`);
    const pending = this.expected.splice(0);
    for (const handler of pending) handler.onFail(err);
  }

  private readonly onError = (err: Error): void => {
    this.fail(new HygieneError('SMTP_CLOSED', `The connection failed: ${err.message}`, this.context(), { cause: err }));
  };

  private readonly onClose = (): void => {
    this.fail(new HygieneError('SMTP_CLOSED', 'The mail server closed the connection.', this.context()));
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private exchangeError(err: SmtpError | undefined, answered: SmtpReply[]): SmtpExchangeError {
    if (!err) return new SmtpExchangeError('SMTP_CLOSED', 'The session is closed.', [...answered], this.context());
    return new SmtpExchangeError(err.code, err.message, [...answered], { ...err.context }, { cause: err.cause ?? err });
  }

  private desyncError(why: string, extra: SmtpFailureContext = {}): SmtpError {
    return new HygieneError('SMTP_DESYNC', `The mail server's replies are out of step with our commands: ${why}.`, { ...this.context(), ...extra });
  }

  private protocolError(message: string, extra: SmtpFailureContext = {}): SmtpError {
    return new HygieneError('SMTP_PROTOCOL', message, { ...this.context(), ...extra });
  }

  private context(): SmtpFailureContext {
    return { mx: this.options.serverName, host: this.options.host, port: this.options.port };
  }

  private note(text: string): void {
    this.emit('info', text);
  }

  private emit(direction: TranscriptEntry['direction'], text: string): void {
    const sink = this.options.onTranscript;
    if (!sink) return;
    try {
      sink({ direction, text, atMs: Math.round(performance.now() - this.startedAt) });
    } catch {
      // A logging callback must never break the protocol.
    }
  }
}

/** EHLO reply lines after the first: keyword [params]. */
function parseExtensions(reply: SmtpReply): Set<string> {
  const keywords = new Set<string>();
  for (const line of reply.lines.slice(1)) {
    const keyword = /^[A-Za-z0-9][A-Za-z0-9-]*/.exec(line.trim())?.[0];
    if (keyword) keywords.add(keyword.toUpperCase());
  }
  return keywords;
}

/** OpenSSL's verification failures and Node's name check (ERR_TLS_CERT_ALTNAME_INVALID). */
function isCertificateError(err: NodeJS.ErrnoException): boolean {
  return typeof err.code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY|ALTNAME/.test(err.code);
}

function verbOf(command: string): string {
  return commandVerb(command);
}

/** The session's context (MX, address, port) added to an SMTP error raised below it (the reply parser). */
function withContext(err: SmtpError, context: SmtpFailureContext): SmtpError {
  return new HygieneError(err.code, err.message, { ...context, ...err.context }, { cause: err.cause });
}

/**
 * SMTP connections through a SOCKS5 proxy (RFC 1928, user/password RFC 1929), for hosts whose own
 * port 25 is blocked. The handshake is the `socks` library's; this module decides whose fault a
 * failure is, which is what the run's early stops need:
 *
 *  - TCP to the proxy refused, unreachable or timed out; the proxy closes or falls silent before our
 *    CONNECT request went out; it does not speak SOCKS5 → SMTP_PROXY_UNREACHABLE (ours);
 *  - it refuses our user name and password, wants credentials we did not give, or accepts none of
 *    our methods → SMTP_PROXY_AUTH_FAILED (ours);
 *  - it answers our CONNECT with a refusal of its own (REP 1 general failure, 2 not allowed by its
 *    ruleset, 7, 8) or closes without answering → SMTP_PROXY_REFUSED (ours: its rules or its state);
 *  - REP 5 (the MX refused the connection) → SMTP_CONNECT_FAILED, that MX's failure as if direct;
 *  - REP 3/4 (network/host unreachable) → SMTP_CONNECT_FAILED, and REP 6 (TTL expired: microsocks'
 *    answer to a connect timeout) or our CONNECT still pending at the timeout → SMTP_TIMEOUT phase
 *    'connect': as ambiguous as a direct timeout (a dead MX, or the proxy's own port 25 blocked), so
 *    only many of them together stop the run (probe/proxy-guard.ts, probe/connectivity-guard.ts).
 *
 * One timer covers it all (TCP to the proxy, greeting, credentials, CONNECT): the session's connect
 * timeout. The proxy is given the MX's IP address (we resolve MX hosts ourselves; DNS never goes to
 * the proxy). Every outcome is reported to `onOutcome` (the run's proxy guard) before the promise
 * settles. The credentials are sent to the proxy and nowhere else: no message quotes them.
 */
import net from 'node:net';
import { SocksClient } from 'socks';
import type { SocksProxyUrl } from '../config/setting-values.ts';
import { HygieneError } from '../errors.ts';
import type { ConnectTarget, SmtpConnector } from './smtp-connector.ts';
import { readSocks5Progress, SOCKS5_REPLY_TEXT, type Socks5Progress } from './socks5-progress.ts';

/** What became of one connect through the proxy. */
export type ProxyOutcomeKind =
  /** The CONNECT was granted: the MX is reached through the proxy. */
  | 'connected'
  /** The MX refused the connection (REP 5): proof the proxy reaches port 25. */
  | 'target-refused'
  /** The MX could not be reached through the proxy (REP 3, 4, 6, or no answer to the CONNECT in time). */
  | 'target-unreachable'
  /** The proxy itself refused the CONNECT (REP 1, 2, 7, 8) or closed without answering it. */
  | 'proxy-refused'
  /** The proxy is down, unreachable, silent or not SOCKS5. */
  | 'proxy-down'
  /** The proxy refused our credentials (or wants some we did not give). */
  | 'auth-refused';

export interface ProxyOutcome {
  kind: ProxyOutcomeKind;
  /** The proxy as shown to users (no credentials). */
  proxy: string;
  mx: string;
  host: string;
  port: number;
  /** REP of the proxy's answer to our CONNECT, when it gave one. */
  reply?: number;
  /** What happened, in words (no credentials). */
  detail: string;
}

export interface Socks5ConnectorOptions {
  /** Sees every outcome (the run's proxy guard). A throwing observer is ignored. */
  onOutcome?: (outcome: ProxyOutcome) => void;
}

const noop = (): void => {};

export function socks5Connector(proxy: SocksProxyUrl, options: Socks5ConnectorOptions = {}): SmtpConnector {
  const via = `through ${proxy.display}`;
  return {
    via,
    connect: (target, timeoutMs) =>
      new Promise<net.Socket>((resolve, reject) => {
        const context = { mx: target.serverName, host: target.host, port: target.port, proxy: proxy.display };
        const raw = net.connect({ host: proxy.host, port: proxy.port });
        raw.setNoDelay(true);
        let handshaking = false;
        let settled = false;
        let received = Buffer.alloc(0);
        /** The proxy's handshake bytes, read alongside the library (it keeps its own copy). */
        const observe = (chunk: Buffer): void => {
          if (received.length < 64) received = Buffer.concat([received, chunk]).subarray(0, 64);
        };
        const finish = (outcome: ProxyOutcome, err?: HygieneError, socket?: net.Socket): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          raw.off('connect', onTcpConnect);
          raw.off('data', observe);
          try {
            options.onOutcome?.(outcome);
          } catch {
            // An observer must never break the connection or leave the promise unsettled.
          }
          if (err || !socket) {
            raw.off('error', onTcpError);
            raw.on('error', noop);
            raw.destroy();
            reject(err ?? new HygieneError('SMTP_PROXY_UNREACHABLE', `The SMTP proxy ${proxy.display} gave no connection.`, context));
            return;
          }
          raw.off('error', onTcpError);
          resolve(socket);
        };
        const fail = (kind: ProxyOutcomeKind, err: HygieneError, reply?: number): void =>
          finish({ kind, proxy: proxy.display, mx: target.serverName, host: target.host, port: target.port, reply, detail: err.message }, err);

        const onTcpError = (err: NodeJS.ErrnoException): void => {
          // After the handshake started the library reports errors (and we classify them there).
          if (handshaking) return;
          fail('proxy-down', new HygieneError('SMTP_PROXY_UNREACHABLE', `Could not connect to the SMTP proxy ${proxy.display}: ${err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message)}.`, context, { cause: err }));
        };
        const onTcpConnect = (): void => {
          handshaking = true;
          raw.on('data', observe); // before the library's listener, so it has seen what the library acts on
          SocksClient.createConnection({
            proxy: {
              host: proxy.host,
              port: proxy.port,
              type: 5,
              ...(proxy.credentials ? { userId: proxy.credentials.username, password: proxy.credentials.password } : {}),
            },
            command: 'connect',
            destination: { host: target.host, port: target.port },
            existing_socket: raw,
            // Our own timer below decides; the library's (unref'd) one only has to come later.
            timeout: timeoutMs + 5_000,
          }).then(
            ({ socket }) => finish({ kind: 'connected', proxy: proxy.display, mx: target.serverName, host: target.host, port: target.port, reply: 0, detail: `connected ${via}` }, undefined, socket),
            (err: unknown) => {
              const [kind, error, reply] = classify(readSocks5Progress(received), proxy, target, context, err);
              fail(kind, error, reply);
            },
          );
        };
        const timer = setTimeout(() => {
          const progress = handshaking ? readSocks5Progress(received) : undefined;
          if (progress?.stage === 'request') {
            fail('target-unreachable', new HygieneError('SMTP_TIMEOUT', `Could not connect to ${target.serverName} ${via} within ${timeoutMs} ms (the proxy was still connecting).`, { ...context, phase: 'connect' }));
            return;
          }
          const what = handshaking ? 'did not finish the SOCKS5 handshake' : 'did not accept a TCP connection';
          fail('proxy-down', new HygieneError('SMTP_PROXY_UNREACHABLE', `The SMTP proxy ${proxy.display} ${what} within ${timeoutMs} ms.`, { ...context, phase: 'connect' }));
        }, timeoutMs);
        raw.once('connect', onTcpConnect);
        raw.on('error', onTcpError);
      }),
  };
}

/** Whose failure a failed handshake is, from how far the proxy's answers got. */
function classify(
  progress: Socks5Progress,
  proxy: SocksProxyUrl,
  target: ConnectTarget,
  baseContext: Record<string, unknown>,
  failure: unknown,
): [ProxyOutcomeKind, HygieneError, number | undefined] {
  const via = `through ${proxy.display}`;
  // Not the library's error as `cause`: it carries the options it was given, our password among them,
  // and error serialisers copy such fields into logs. Its message is a fixed sentence.
  const context = { ...baseContext, socksError: failure instanceof Error ? failure.message : String(failure) };
  const down = (why: string): [ProxyOutcomeKind, HygieneError, undefined] => ['proxy-down', new HygieneError('SMTP_PROXY_UNREACHABLE', `The SMTP proxy ${proxy.display} ${why}.`, context), undefined];
  const auth = (why: string): [ProxyOutcomeKind, HygieneError, undefined] => ['auth-refused', new HygieneError('SMTP_PROXY_AUTH_FAILED', `The SMTP proxy ${proxy.display} ${why}.`, context), undefined];
  if (progress.notSocks5) return down('does not speak SOCKS5 (its answer is not a SOCKS5 reply)');
  switch (progress.stage) {
    case 'greeting':
      if (progress.method === undefined) return down('closed the connection before answering the SOCKS5 greeting');
      if (progress.method === 0xff) {
        return auth(proxy.credentials ? 'accepts none of our authentication methods (we offered a user name and password)' : 'requires credentials (socks5://user:password@host:port) and none were given');
      }
      return auth(`asks for an authentication method we do not support (${progress.method})`);
    case 'auth':
      return auth(progress.authStatus === undefined ? 'closed the connection when given our user name and password' : 'refused our user name and password');
    case 'request':
      return ['proxy-refused', new HygieneError('SMTP_PROXY_REFUSED', `The SMTP proxy ${proxy.display} closed the connection without answering our CONNECT to ${target.serverName} [${target.host}]:${target.port}.`, context), undefined];
    case 'replied': {
      const reply = progress.reply ?? 1;
      const text = SOCKS5_REPLY_TEXT[reply] ?? `reply ${reply}`;
      const said = `${text} (SOCKS5 reply ${reply})`;
      if (reply === 5) {
        return ['target-refused', new HygieneError('SMTP_CONNECT_FAILED', `Could not connect to ${target.serverName} ${via}: ${said}.`, { ...context, refused: true, socksReply: reply }), reply];
      }
      if (reply === 3 || reply === 4) {
        return ['target-unreachable', new HygieneError('SMTP_CONNECT_FAILED', `Could not connect to ${target.serverName} ${via}: ${said}.`, { ...context, socksReply: reply }), reply];
      }
      if (reply === 6) {
        return ['target-unreachable', new HygieneError('SMTP_TIMEOUT', `Could not connect to ${target.serverName} ${via}: ${said}, the proxy's connect timed out.`, { ...context, phase: 'connect', socksReply: reply }), reply];
      }
      return [
        'proxy-refused',
        new HygieneError('SMTP_PROXY_REFUSED', `The SMTP proxy ${proxy.display} refused to connect to ${target.serverName} [${target.host}]:${target.port}: ${said}.`, { ...context, socksReply: reply }),
        reply,
      ];
    }
  }
}

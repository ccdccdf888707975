/**
 * How an SMTP session gets its connected socket (STYLE.md: the prober receives its socket
 * connector). The session speaks SMTP over whatever socket it is handed; the connector decides the
 * way out: straight from this host (optionally from one local address), or through a SOCKS5 proxy
 * (socks5-connector.ts). Either way the whole connect, a proxy's handshake included, fits in the
 * session's connect timeout, and failures are coded:
 *  - SMTP_CONNECT_FAILED: the MX refused or could not be reached (context.refused when it refused);
 *  - SMTP_TIMEOUT with context.phase 'connect': no answer from the MX within the timeout;
 *  - SMTP_PROXY_UNREACHABLE / SMTP_PROXY_AUTH_FAILED / SMTP_PROXY_REFUSED: the proxy's own failures
 *    (ours to fix, never a fact about the MX).
 */
import net from 'node:net';
import { HygieneError } from '../errors.ts';

export interface ConnectTarget {
  /** The address to connect to (the engine passes an IP it resolved itself). */
  host: string;
  port: number;
  /** The MX host name, for messages. */
  serverName: string;
}

export interface SmtpConnector {
  /** How connections go out, for transcripts and messages: "direct", "from 192.0.2.10", "through socks5://10.0.0.5:1080". */
  readonly via: string;
  /** A connected socket to the target within timeoutMs, or a coded HygieneError (see above). */
  connect(target: ConnectTarget, timeoutMs: number): Promise<net.Socket>;
}

const noop = (): void => {};

/** Straight TCP from this host, bound to `localAddress` when given. */
export function directConnector(localAddress?: string): SmtpConnector {
  return {
    via: localAddress === undefined ? 'direct' : `from ${localAddress}`,
    connect: (target, timeoutMs) =>
      new Promise<net.Socket>((resolve, reject) => {
        const context = { mx: target.serverName, host: target.host, port: target.port };
        const socket = net.connect({ host: target.host, port: target.port, ...(localAddress === undefined ? {} : { localAddress }) });
        socket.setNoDelay(true);
        const done = (err?: HygieneError): void => {
          clearTimeout(timer);
          socket.off('connect', onConnect);
          socket.off('error', onError);
          if (err) {
            socket.on('error', noop);
            socket.destroy();
            reject(err);
          } else {
            resolve(socket);
          }
        };
        const onConnect = (): void => done();
        const onError = (err: NodeJS.ErrnoException): void =>
          done(new HygieneError('SMTP_CONNECT_FAILED', `Could not connect to ${target.serverName}: ${err.message}`, { ...context, refused: err.code === 'ECONNREFUSED' }, { cause: err }));
        const timer = setTimeout(
          () => done(new HygieneError('SMTP_TIMEOUT', `Could not connect to ${target.serverName} within ${timeoutMs} ms.`, { ...context, phase: 'connect' })),
          timeoutMs,
        );
        socket.once('connect', onConnect);
        socket.once('error', onError);
      }),
  };
}

/** True for the proxy's own failures (ours), as opposed to the MX's. */
export function isProxyFailure(err: HygieneError): boolean {
  return err.code === 'SMTP_PROXY_UNREACHABLE' || err.code === 'SMTP_PROXY_AUTH_FAILED' || err.code === 'SMTP_PROXY_REFUSED';
}

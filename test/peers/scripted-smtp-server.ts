/**
 * A raw scripted SMTP server on 127.0.0.1 for tests (like nodemailer's raw `net` test servers).
 * Each accepted connection runs the scenario's script with a `ScriptedConnection`; the script reads
 * client lines and writes whatever bytes it wants, including broken ones. No SMTP logic lives here.
 *
 *   const server = await startScriptedSmtpServer(async (c) => {
 *     c.send('220 mx.test ESMTP\r\n');
 *     await c.expectLine(/^EHLO /);
 *     c.send('250-mx.test\r\n250 PIPELINING\r\n');
 *   });
 *   ... SmtpSession.open({ host: '127.0.0.1', port: server.port, ... })
 *   await server.close();
 */
import net from 'node:net';
import tls from 'node:tls';

export interface ScriptedConnection {
  /** The socket currently in use (the TLS socket after `startTls`). */
  readonly socket: net.Socket;
  /** Every line received from the client so far (CRLF stripped), across TLS. */
  readonly lines: string[];
  /** Raw text received (before TLS and after), for "nothing was sent" assertions. */
  readonly received: () => string;
  /** Write raw bytes (include your own CRLFs). Ignored once closed. */
  send(text: string | Buffer): void;
  /** Next client line; null if the client closed or `timeoutMs` passed without a line. */
  readLine(timeoutMs?: number): Promise<string | null>;
  /** Next client line, which must match; throws otherwise (fails the script). */
  expectLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Lines received but not yet read with readLine. */
  unread(): number;
  /** Upgrade the server side to TLS after you sent the 220 to STARTTLS. */
  startTls(options: { key: string | Buffer; cert: string | Buffer }): Promise<void>;
  /** Resolves when the client side is gone (closed or destroyed). */
  readonly closed: Promise<void>;
  readonly isClosed: () => boolean;
  /** Hang up (FIN) / reset. */
  end(): void;
  destroy(): void;
}

export interface ScriptedSmtpServer {
  readonly host: string;
  readonly port: number;
  readonly connections: ScriptedConnection[];
  /** Errors thrown by scripts (a failed expectLine), so tests can assert there were none. */
  readonly scriptErrors: unknown[];
  /** Resolves when every script that started has finished. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export type SmtpScript = (connection: ScriptedConnection, index: number) => Promise<void> | void;

export interface ScriptedServerOptions {
  /** Listen address; default 127.0.0.1. Several servers on distinct 127.x IPs can share a port. */
  host?: string;
  /** Port; default 0 (a free one). */
  port?: number;
}

export async function startScriptedSmtpServer(script: SmtpScript, options: ScriptedServerOptions = {}): Promise<ScriptedSmtpServer> {
  const host = options.host ?? '127.0.0.1';
  const connections: ScriptedConnection[] = [];
  const scriptErrors: unknown[] = [];
  const running: Promise<void>[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const connection = new Connection(socket);
    const index = connections.length;
    connections.push(connection);
    running.push(
      (async () => {
        try {
          await script(connection, index);
        } catch (err) {
          scriptErrors.push(err);
          connection.destroy();
        }
      })(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');

  return {
    host,
    port: address.port,
    connections,
    scriptErrors,
    async settled() {
      await Promise.all(running);
    },
    async close() {
      for (const c of connections) c.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(running);
    },
  };
}

class Connection implements ScriptedConnection {
  socket: net.Socket;
  readonly lines: string[] = [];
  readonly closed: Promise<void>;
  private text = '';
  private buffer = '';
  private readIndex = 0;
  private gone = false;
  private waiters: Array<() => void> = [];
  private markClosed!: () => void;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise<void>((resolve) => {
      this.markClosed = resolve;
    });
    this.listen(socket);
  }

  received = (): string => this.text;
  isClosed = (): boolean => this.gone;

  send(text: string | Buffer): void {
    if (this.gone || this.socket.destroyed) return;
    this.socket.write(text);
  }

  unread(): number {
    return this.lines.length - this.readIndex;
  }

  async readLine(timeoutMs = 5_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.readIndex >= this.lines.length) {
      if (this.gone) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
    const line = this.lines[this.readIndex] ?? null;
    this.readIndex += 1;
    return line;
  }

  async expectLine(pattern: RegExp, timeoutMs = 5_000): Promise<string> {
    const line = await this.readLine(timeoutMs);
    if (line === null || !pattern.test(line)) {
      throw new Error(`scripted server expected ${pattern} but got ${JSON.stringify(line)}`);
    }
    return line;
  }

  startTls(options: { key: string | Buffer; cert: string | Buffer }): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.on('error', () => {});
    const secure = new tls.TLSSocket(plain, { isServer: true, key: options.key, cert: options.cert });
    this.socket = secure;
    this.listen(secure);
    return new Promise<void>((resolve, reject) => {
      secure.once('secure', () => resolve());
      secure.once('error', reject);
      secure.once('close', () => reject(new Error('closed during TLS handshake')));
    });
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private listen(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      const s = chunk.toString('utf8');
      this.text += s;
      this.buffer += s;
      let lf: number;
      while ((lf = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, lf).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(lf + 1);
      }
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.gone = true;
      this.markClosed();
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** A scripted raw `net` SMTP client for the simulator tests: send bytes, read whole replies. */
import net from 'node:net';
import tls from 'node:tls';

export interface RawSmtpClient {
  /** Next complete reply (all lines, the final "NNN " line included), joined by "\n". */
  reply(timeoutMs?: number): Promise<string>;
  /** Sends one command line (CRLF added). */
  send(line: string): void;
  /** Sends bytes as they are (several commands in one write = pipelining). */
  write(data: string): void;
  /** After a 220 to STARTTLS: TLS handshake over the same connection (self-signed certificate accepted). */
  startTls(): Promise<void>;
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
  close(): void;
}

export async function connectRaw(host: string, port: number): Promise<RawSmtpClient> {
  const raw = net.connect({ host, port });
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', resolve);
    raw.once('error', reject);
  });
  let socket: net.Socket = raw;
  let buffer = '';
  let waiter: (() => void) | null = null;
  let ended = false;
  const onData = (chunk: Buffer): void => {
    buffer += chunk.toString('utf8');
    waiter?.();
  };
  socket.on('data', onData);
  const closed = new Promise<void>((resolve) => {
    raw.once('close', () => {
      ended = true;
      waiter?.();
      resolve();
    });
  });
  raw.on('error', () => undefined);

  function takeReply(): string | null {
    const lines: string[] = [];
    let rest = buffer;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) return null;
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 2);
      lines.push(line);
      if (!/^\d{3}-/.test(line)) {
        buffer = rest;
        return lines.join('\n');
      }
    }
  }

  return {
    async reply(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = takeReply();
        if (r !== null) return r;
        if (ended) throw new Error(`connection closed; unread: ${JSON.stringify(buffer)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; unread: ${JSON.stringify(buffer)}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiter = () => {
            clearTimeout(t);
            resolve();
          };
        });
        waiter = null;
      }
    },
    send(line) {
      socket.write(`${line}\r\n`);
    },
    write(data) {
      socket.write(data);
    },
    async startTls() {
      raw.off('data', onData);
      buffer = '';
      const secure = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'mx.test' });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      secure.on('error', () => undefined);
      secure.on('data', onData);
      socket = secure;
    },
    closed,
    close() {
      socket.destroy();
    },
  };
}

/**
 * A scripted SOCKS5 proxy on loopback for tests: it answers the greeting, the credentials and the
 * CONNECT exactly as a script says (any RFC 1928 reply code, a close, silence, or a non-SOCKS
 * banner), so every way a proxy can fail is reproducible without a real one.
 */
import net from 'node:net';

/** What the proxy answers: the greeting (and credentials) as told, then the CONNECT with `reply`. */
export interface Script {
  method?: number;
  authStatus?: number | 'close';
  reply?: number | 'close' | 'silent';
  /** Sent instead of any SOCKS5 answer. */
  raw?: string;
  silent?: boolean;
}

/** Starts one on 127.0.0.1; the caller closes `server`. */
export async function startScriptedSocksProxy(script: Script): Promise<{ port: number; sockets: net.Socket[]; server: net.Server }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    // Read (and drop) what comes, so the client's close is seen and server.close() can finish.
    socket.resume();
    if (script.silent) return;
    if (script.raw !== undefined) {
      socket.write(script.raw);
      return;
    }
    let stage: 'greeting' | 'auth' | 'request' = 'greeting';
    socket.on('data', () => {
      if (stage === 'greeting') {
        const method = script.method ?? 0;
        socket.write(Buffer.from([5, method]));
        stage = method === 2 ? 'auth' : 'request';
        if (method === 0xff) socket.end();
        return;
      }
      if (stage === 'auth') {
        if (script.authStatus === 'close') return void socket.destroy();
        socket.write(Buffer.from([1, script.authStatus ?? 0]));
        if ((script.authStatus ?? 0) !== 0) return void socket.end();
        stage = 'request';
        return;
      }
      if (script.reply === 'close') return void socket.destroy();
      if (script.reply === 'silent') return;
      socket.write(Buffer.from([5, script.reply ?? 0, 0, 1, 127, 0, 0, 1, 0, 25]));
      if ((script.reply ?? 0) !== 0) socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, sockets, server };
}


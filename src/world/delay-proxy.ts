/**
 * A loopback TCP proxy that delays every chunk by a fixed one-way latency in each direction, so a
 * benchmark sees realistic round trips (RTT = 2 × oneWayDelayMs) without the servers sleeping.
 * Order is preserved: every chunk of one direction waits the same delay, and Node runs timers of
 * equal duration in the order they were set. Backpressure is ignored (benchmark traffic is small).
 */
import net from 'node:net';

export interface DelayProxyOptions {
  listenHost: string;
  /** 0 = a free port. */
  listenPort: number;
  targetHost: string;
  targetPort: number;
  oneWayDelayMs: number;
}

export interface DelayProxy {
  host: string;
  port: number;
  /** roundTrips: per connection, 1 for connect + greeting, plus 1 per client turn (a burst of client
   *  bytes that follows server bytes): the round trips as the server side sees them. */
  stats: { connections: number; bytesUp: number; bytesDown: number; roundTrips: number };
  stop(): Promise<void>;
}

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const stats = { connections: 0, bytesUp: 0, bytesDown: 0, roundTrips: 0 };
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void): void => {
    if (options.oneWayDelayMs <= 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, options.oneWayDelayMs);
    timers.add(t);
  };
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    stats.connections++;
    stats.roundTrips++;
    // A delay line must not add its own Nagle/delayed-ACK stalls on top of the simulated latency.
    client.setNoDelay(true);
    track(client);
    // The connect itself crosses the network too: the upstream sees the SYN one delay later.
    client.pause();
    later(() => {
      const upstream = net.connect({ host: options.targetHost, port: options.targetPort, allowHalfOpen: true, noDelay: true });
      track(upstream);
      // A turn starts with the first client bytes after the server has spoken.
      let serverSpoke = false;
      pipe(client, upstream, (n) => {
        stats.bytesUp += n;
        if (serverSpoke) stats.roundTrips++;
        serverSpoke = false;
      });
      pipe(upstream, client, (n) => {
        stats.bytesDown += n;
        serverSpoke = true;
      });
      client.resume();
    });
  });

  function pipe(from: net.Socket, to: net.Socket, count: (n: number) => void): void {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      later(() => {
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () => later(() => to.end()));
    from.on('error', () => later(() => to.destroy()));
    // A clean close already ended the other side above; destroying it now could drop queued bytes.
    from.on('close', (hadError: boolean) => {
      if (hadError) later(() => to.destroy());
    });
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort, options.listenHost, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : options.listenPort);
    });
  });

  return {
    host: options.listenHost,
    port,
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

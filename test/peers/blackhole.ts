/**
 * A loopback address where TCP connects time out, like a port blocked by a firewall that drops
 * packets: a listening socket that never accepts, with its one-slot accept queue already filled, so
 * the kernel drops further SYNs. Node always accepts on a listening socket, so the listener is a tiny
 * python3 process (python3 is on every machine this project runs on).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

const SCRIPT = `
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(0)
print("ready", flush=True)
time.sleep(600)
`;

export interface Blackhole {
  /** Kills the listener; resolves once its process is gone (the address is free again). */
  stop(): Promise<void>;
}

export async function startBlackhole(host: string, port: number): Promise<Blackhole> {
  const child: ChildProcess = spawn('python3', ['-c', SCRIPT, host, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', () => resolve());
  });
  // Fill the accept queue: this connection completes, every later one times out.
  const filler = net.connect({ host, port });
  await new Promise<void>((resolve) => filler.once('connect', () => resolve()));
  return {
    stop() {
      filler.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      return exited;
    },
  };
}

/**
 * A remote network of the test's own: a network namespace (`ip netns`, iproute2) joined to this one
 * by a veth pair, the way a proxy host on another network is reached from a cloud host whose port 25
 * is blocked. Servers started inside (the simulated MX hosts on the namespace's own loopback, a
 * SOCKS5 proxy on its end of the link) are reachable from here only at `address`, the namespace's
 * end of the link: the MX addresses published in DNS are not reachable from this namespace at all,
 * so the only way to them is through the proxy. The link uses 198.18.0.0/15 (RFC 2544, set aside for
 * test networks) and carries nothing but this test's traffic between two namespaces of one machine.
 * Needs root and iproute2 (`netnsAvailability()` in socks-proxy.ts says why not).
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RemoteNetwork {
  readonly name: string;
  /** The namespace's end of the link (listen here to be reachable from the test). */
  readonly address: string;
  /** This namespace's end of the link (where the namespace sees our connections come from). */
  readonly localAddress: string;
  /** Starts a command inside the namespace. */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Kills what was started inside and deletes the namespace (and with it the link). Never throws. */
  stop(): Promise<void>;
}

export async function startRemoteNetwork(): Promise<RemoteNetwork> {
  const id = randomBytes(3).toString('hex');
  const name = `hyg-remote-${id}`;
  const outer = `hyg${id}o`;
  const inner = `hyg${id}i`;
  const subnet = 4 * Math.floor(Math.random() * 64);
  const third = Math.floor(Math.random() * 256);
  const localAddress = `198.18.${third}.${subnet + 1}`;
  const address = `198.18.${third}.${subnet + 2}`;
  const children: ChildProcess[] = [];
  const ip = (...args: string[]) => run('ip', args);
  const inside = (...args: string[]) => run('ip', ['netns', 'exec', name, 'ip', ...args]);
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const forced = setTimeout(() => child.kill('SIGKILL'), 3_000);
        return exited.finally(() => clearTimeout(forced));
      }),
    );
    // Deleting the namespace deletes its end of the veth pair, and so the pair.
    await ip('netns', 'del', name).catch(() => undefined);
    await ip('link', 'del', outer).catch(() => undefined);
  };
  try {
    await ip('netns', 'add', name);
    await inside('link', 'set', 'lo', 'up');
    await ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
    await ip('link', 'set', inner, 'netns', name);
    await ip('addr', 'add', `${localAddress}/30`, 'dev', outer);
    await ip('link', 'set', outer, 'up');
    await inside('addr', 'add', `${address}/30`, 'dev', inner);
    await inside('link', 'set', inner, 'up');
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name,
    address,
    localAddress,
    spawn(command, args, options = {}) {
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], options);
      children.push(child);
      return child;
    },
    stop,
  };
}

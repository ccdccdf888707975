/**
 * A TCP port free on one loopback address, for a real peer (Postfix, Exim, postgrey) the test
 * starts. The port is released before the peer binds it: the peers' own start-up checks report a
 * (rare) race as a clear failure.
 */
import net from 'node:net';

export async function freePort(ip: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, ip, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

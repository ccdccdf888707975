/**
 * The simulated mail world's SMTP servers in a process of their own, so a test can run them inside a
 * network namespace (test/peers/remote-network.ts) where only a SOCKS5 proxy reaches them. Usage:
 *   node --import tsx test/peers/world-process.ts SPEC.json SMTP_PORT
 * Prints one JSON line {"smtpPort": N} when listening; on SIGTERM or when stdin closes it prints
 * {"stats": {...}} (per-host counters) and exits.
 */
import { readFile } from 'node:fs/promises';
import { startMailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';

const [specFile, port] = process.argv.slice(2);
const world = await startMailWorld(parseWorldSpec(JSON.parse(await readFile(specFile ?? '', 'utf8'))), { smtpPort: Number(port ?? 0) });
process.stdout.write(`${JSON.stringify({ smtpPort: world.smtpPort })}\n`);
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`${JSON.stringify({ stats: world.stats() })}\n`);
  await world.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();

/**
 * Benchmark 2: pipeline overhead. A generated CSV (realistic columns and widths) goes through the
 * whole product path with an instant verifier ('syntax': no DNS, no SMTP) — parse, record in Redis,
 * enqueue, verify jobs, collect, write cleaned/rejected/report — and, on the same file in the same
 * run, through a raw single-pass csv-parse → csv-stringify. Each measurement runs in its own child
 * process (pipeline-child.ts) so its peak RSS is its own.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputDigest } from '../../src/csv/input-digest.ts';
import { seededRandom } from '../../src/world/world-generator.ts';
import { writeLines } from './bench-support.ts';

/** How the product is launched (see src/cli/bin.mjs): both measurements run with it. */
export const PRODUCT_HEAP_FLAG = '--max-old-space-size=512';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pipeline-child.ts');

const FIRST = ['Anna', 'Benjamin', 'Carla', 'David', 'Elif', 'Farid', 'Grace', 'Hugo', 'Inès', 'Jonas', 'Kim', 'Lena', 'Marco', 'Nora', 'Omar', 'Paula'];
const LAST = ['Meyer', 'Schmidt', 'García', 'Rossi', 'Dubois', 'Novak', 'Kowalski', 'Silva', 'Jensen', 'Murphy', "O'Brien", 'Nguyen', 'Tanaka'];
const CITIES = ['Berlin', 'Lyon', 'São Paulo', 'New York, NY', 'Osaka', 'Kraków', 'Dublin', 'Austin, TX'];
const NOTES = ['', '', '', 'met at conference', 'asked for a demo; call back in Q3', 'VIP "gold" tier', 'unsubscribed from newsletter, keep for billing'];

/** ~150 bytes a row: id, email, names, company, city, phone, date, plan, notes (some quoted). */
export async function writeLargeCsv(file: string, rows: number): Promise<void> {
  const random = seededRandom(7);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  await writeLines(file, (function* () {
    yield 'id,email,first_name,last_name,company,city,phone,signup_date,plan,notes\n';
    let chunk = '';
    for (let i = 0; i < rows; i++) {
      const first = pick(FIRST);
      const last = pick(LAST);
      const domain = `company${Math.floor(random() * 20_000)}.example`;
      const local = `${first}.${last}`.toLowerCase().normalize('NFD').replace(/[^a-z.]/g, '');
      // ~2% duplicates and ~1% malformed addresses, like a real export.
      const n = random() < 0.02 ? Math.floor(random() * Math.max(1, i)) : i;
      const email = random() < 0.01 ? `${local}${n}_at_${domain}` : `${local}${n}@${domain}`;
      const line = [String(i + 1), email, first, last, `${last} ${pick(['GmbH', 'SARL', 'Ltd', 'Inc.', 'S.A.'])}`, pick(CITIES), `+49 30 ${1_000_000 + Math.floor(random() * 8_999_999)}`, `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`, pick(['free', 'pro', 'team']), pick(NOTES)]
        .map(quote)
        .join(',');
      chunk += `${line}\n`;
      if (chunk.length > 64 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  })());
}

export interface ChildResult {
  mode: 'pipeline' | 'raw';
  rows: number;
  elapsedMs: number;
  maxRssMb: number;
}

export function runChild(mode: 'pipeline' | 'raw', file: string, extraArgs: string[] = []): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // The same heap cap as the product's launchers (package.json scripts, bin.mjs, docker-compose).
    const child = spawn(process.execPath, [PRODUCT_HEAP_FLAG, '--import', 'tsx', CHILD, mode, file, ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pipeline child (${mode}) exited with ${code}: ${out}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ChildResult);
      } catch (err) {
        reject(new Error(`pipeline child (${mode}) printed no result: ${out} (${(err as Error).message})`));
      }
    });
  });
}

/**
 * What the input digest costs one pass (each of the two passes pays it once): the CPU time of
 * InputDigest.update over the file's chunks as a pass reads them (64 KiB), the read itself excluded.
 */
export async function timeInputDigest(file: string): Promise<{ hashMs: number; bytes: number }> {
  const digest = new InputDigest();
  let hashMs = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    const started = performance.now();
    digest.update(chunk);
    hashMs += performance.now() - started;
  }
  const started = performance.now();
  const { bytes } = digest.result();
  hashMs += performance.now() - started;
  return { hashMs, bytes };
}

/**
 * `npm run bench`: one table of figures, each comparison measured in the same run on the same world.
 *   1. engine vs naive baseline at 0 ms and 25 ms one-way latency (a delay proxy per MX host)
 *   2. pipeline overhead: product path with an instant verifier vs raw csv-parse → csv-stringify
 *   3. fleet: 1, 2, 3 worker processes on one Redis
 *   4. start-up: `hygiene --help` of the installed package (npm pack + install), median of N runs,
 *      against the dev launcher (tsx) and the package before it was compiled (test/bench/startup-bench.ts)
 *   5. outbound identities: one vs two identities on the same simulated provider with a polite limit
 *      per identity (test/bench/identity-bench.ts)
 * Flags: --quick (smoke sizes), --out FILE (markdown table), --only engine,pipeline,fleet,startup,
 *   --addresses N (10000), --baseline-addresses N (at 25 ms; default 1500: one connection per
 *   address at 50 ms RTT takes ~0.3 s each), --pipeline-rows N (1000000), --huge (adds 10M rows),
 *   --fleet-addresses N (5000), --fleet-delay MS (25), --startup-runs N (15), --startup-before REF,
 *   --identity-addresses N (240), --identity-rcpts-per-minute N (240).
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379). Benchmarks are not tests: CI never times anything.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateWorld } from '../../src/world/world-generator.ts';
import { fmt, renderTable, type Figure } from './bench-support.ts';
import { runBaseline, runEngine, writeContactsCsv } from './engine-bench.ts';
import { runFleet } from './fleet-bench.ts';
import { runChild, timeInputDigest, writeLargeCsv } from './pipeline-bench.ts';
import { BEFORE_REF, runStartup, type Timing } from './startup-bench.ts';
import { runIdentityBench } from './identity-bench.ts';
import { buildDist } from '../helpers/build-dist.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    only: { type: 'string' },
    addresses: { type: 'string' },
    'baseline-addresses': { type: 'string' },
    'pipeline-rows': { type: 'string' },
    huge: { type: 'boolean' },
    'fleet-addresses': { type: 'string' },
    'fleet-delay': { type: 'string' },
    'startup-runs': { type: 'string' },
    'startup-before': { type: 'string' },
    'identity-addresses': { type: 'string' },
    'identity-rcpts-per-minute': { type: 'string' },
  },
});
const quick = flags.quick === true;
const num = (v: string | undefined, full: number, smoke: number): number => (v !== undefined ? Number(v) : quick ? smoke : full);
const only = new Set((flags.only ?? 'engine,pipeline,fleet,startup,identities').split(','));
const ADDRESSES = num(flags.addresses, 10_000, 1_000);
const BASELINE_25 = num(flags['baseline-addresses'], 1_500, 300);
const PIPELINE_ROWS = num(flags['pipeline-rows'], 1_000_000, 50_000);
const FLEET_ADDRESSES = num(flags['fleet-addresses'], 5_000, 1_000);
const FLEET_DELAY = num(flags['fleet-delay'], 25, 25);
const STARTUP_RUNS = num(flags['startup-runs'], 15, 5);
const IDENTITY_ADDRESSES = num(flags['identity-addresses'], 240, 120);
const IDENTITY_RPM = num(flags['identity-rcpts-per-minute'], 240, 240);
const SESSIONS_PER_MX = 2;

const figures: Figure[] = [];
const add = (section: string, figure: string, value: string, target = '', pass: boolean | null = null) => figures.push({ section, figure, value, target, pass });
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const machine = `${cpu.trim()}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.release()}`;

// The fleet benchmark spawns the compiled CLI (dist/cli/bin.js): bring it up to date with src/.
buildDist();
const work = await mkdtemp(path.join(os.tmpdir(), 'hygiene-bench-'));
const startedAt = performance.now();
try {
  if (only.has('engine') || only.has('fleet')) {
    const world = generateWorld({ mxHosts: 3, domains: 40, addresses: Math.max(ADDRESSES, FLEET_ADDRESSES), unknownRatio: 0.3 });
    if (only.has('engine')) {
      const engineWorld = { ...world, contacts: world.contacts.slice(0, ADDRESSES) };
      const csv = path.join(work, 'contacts.csv');
      await writeContactsCsv(engineWorld, csv);
      for (const delay of [0, 25]) {
        const section = `1. Engine vs baseline, ${delay} ms one way`;
        log(`engine, ${ADDRESSES} addresses, ${delay} ms`);
        const engine = await runEngine(engineWorld, csv, delay);
        const sample = delay === 0 ? ADDRESSES : Math.min(ADDRESSES, BASELINE_25);
        log(`baseline, ${sample} addresses, ${delay} ms`);
        const base = await runBaseline(engineWorld, sample, delay, SESSIONS_PER_MX);
        const ratio = engine.perConnection / base.perConnection;
        add(section, `engine: addresses/s (${fmt(engine.addresses, 0)} addresses, ${fmt(engine.elapsedMs / 1000)} s)`, fmt(engine.addressesPerSecond));
        add(section, `baseline: addresses/s (${fmt(base.addresses, 0)} addresses${sample < ADDRESSES ? ', first ones of the same list' : ''})`, fmt(base.addressesPerSecond));
        add(section, 'engine: addresses/s per concurrent connection', `${fmt(engine.perConnection)} (${engine.concurrentConnections} conns)`);
        add(section, 'baseline: addresses/s per concurrent connection', `${fmt(base.perConnection)} (${base.concurrentConnections} conns)`);
        add(section, 'engine ÷ baseline, per connection', `${fmt(ratio)}×`, delay === 25 ? '≥ 30×' : '', delay === 25 ? ratio >= 30 : null);
        add(section, 'engine: SMTP round trips per address (server side)', fmt(engine.roundTripsPerAddress, 3), '≤ 0.3', engine.roundTripsPerAddress <= 0.3);
        add(section, 'baseline: SMTP round trips per address', fmt(base.roundTripsPerAddress, 3));
        add(section, 'engine / baseline: sessions per MX', `${fmt(engine.sessionsPerMx)} / ${fmt(base.sessionsPerMx)}`);
        add(section, 'engine / baseline: error-limit penalties, 421s', `${engine.penalties}, ${engine.hardLimitHits} / ${base.penalties}, ${base.hardLimitHits}`, '0', engine.penalties + engine.hardLimitHits === 0);
        add(section, 'engine / baseline: most sessions on one MX at once', `${engine.maxSessionsOnOneMx} / ${base.maxSessionsOnOneMx}`, `≤ ${SESSIONS_PER_MX}`, engine.maxSessionsOnOneMx <= SESSIONS_PER_MX && base.maxSessionsOnOneMx <= SESSIONS_PER_MX);
        const expectedUnknown = engineWorld.contacts.filter((c) => c.unknown).length;
        add(section, 'engine verdicts: deliverable / undeliverable / other (world has)', `${engine.accepted} / ${engine.rejected} / ${engine.other} (${ADDRESSES - expectedUnknown} / ${expectedUnknown})`, 'match', engine.rejected === expectedUnknown && engine.other === 0);
        add(section, 'DATA commands seen by the servers', String(engine.dataSeen + base.dataSeen), '0', engine.dataSeen + base.dataSeen === 0);
      }
    }
    if (only.has('fleet')) {
      const fleetWorld = { ...world, contacts: world.contacts.slice(0, FLEET_ADDRESSES) };
      const csv = path.join(work, 'fleet.csv');
      await writeContactsCsv(fleetWorld, csv);
      const section = `3. Fleet, ${FLEET_ADDRESSES} addresses, ${FLEET_DELAY} ms one way`;
      for (const workers of [1, 2, 3]) {
        log(`fleet, ${workers} worker process(es)`);
        const f = await runFleet(fleetWorld, csv, workers, FLEET_DELAY);
        add(section, `${workers} worker${workers > 1 ? 's' : ''}: addresses/s`, fmt(f.addressesPerSecond));
        add(section, `${workers} worker${workers > 1 ? 's' : ''}: most sessions on one MX at once (server side)`, String(f.maxSessionsOnOneMx), `≤ ${f.limit}`, f.maxSessionsOnOneMx <= f.limit);
      }
    }
  }

  if (only.has('pipeline')) {
    const section = '2. Pipeline overhead (syntax verifier)';
    const sizes = [100_000, PIPELINE_ROWS, ...(flags.huge === true ? [10_000_000] : [])].filter((n, i, all) => all.indexOf(n) === i);
    const rss = new Map<number, number>();
    for (const rows of sizes) {
      const csv = path.join(work, `list-${rows}.csv`);
      log(`pipeline, generating ${rows} rows`);
      await writeLargeCsv(csv, rows);
      log(`pipeline, raw csv-parse → csv-stringify, ${rows} rows`);
      const raw = await runChild('raw', csv);
      log(`pipeline, product path, ${rows} rows`);
      const product = await runChild('pipeline', csv);
      rss.set(rows, product.maxRssMb);
      const digest = await timeInputDigest(csv);
      const productRate = product.rows / (product.elapsedMs / 1000);
      const rawRate = raw.rows / (raw.elapsedMs / 1000);
      const share = productRate / rawRate;
      add(section, `${fmt(rows, 0)} rows: product path rows/s (end to end)`, fmt(productRate, 0));
      add(section, `${fmt(rows, 0)} rows: raw csv-parse → csv-stringify rows/s`, fmt(rawRate, 0));
      add(section, `${fmt(rows, 0)} rows: product ÷ raw`, `${fmt(share * 100)} %`, '≥ 50 %', share >= 0.5);
      add(section, `${fmt(rows, 0)} rows: peak RSS product / raw`, `${fmt(product.maxRssMb, 0)} MB / ${fmt(raw.maxRssMb, 0)} MB`);
      // Both passes hash the chunks they read (input-changed check): twice this, inside the product time.
      add(section, `${fmt(rows, 0)} rows: input digest (SHA-256 of ${fmt(digest.bytes / 2 ** 20, 0)} MiB) per pass`, `${fmt(digest.hashMs, 0)} ms = ${fmt(((2 * digest.hashMs) / product.elapsedMs) * 100)} % of the product time for both`);
      await rm(csv, { force: true });
    }
    const small = rss.get(100_000);
    for (const rows of sizes.slice(1)) {
      const big = rss.get(rows);
      if (small === undefined || big === undefined) continue;
      const change = (big - small) / small;
      add(section, `peak RSS change 100,000 → ${fmt(rows, 0)} rows`, `${change >= 0 ? '+' : ''}${fmt(change * 100)} %`, 'within ±20 %', Math.abs(change) <= 0.2);
    }
  }

  if (only.has('startup')) {
    const section = '4. Start-up of the installed command';
    log(`start-up: npm pack, install the tarball, ${STARTUP_RUNS} runs of each command`);
    const s = runStartup(STARTUP_RUNS, flags['startup-before'] ?? BEFORE_REF);
    const ms = (t: Timing) => `${fmt(t.medianMs, 0)} ms (${fmt(t.minMs, 0)}–${fmt(t.maxMs, 0)})`;
    add(section, `hygiene --help, median of ${STARTUP_RUNS} (min–max)`, ms(s.help), '< 500 ms', s.help.medianMs < 500);
    add(section, 'hygiene --version', ms(s.version), '< 500 ms', s.version.medianMs < 500);
    add(section, 'hygiene verify --help (loads the verify command: bullmq, ioredis)', ms(s.verifyHelp));
    add(section, 'dev launcher on the sources (node src/cli/bin.mjs --help, tsx)', ms(s.devLauncherHelp));
    add(section, "node -e 0 (Node's own start, for scale)", ms(s.bareNode));
    if (s.beforeHelp) {
      add(section, `before: hygiene --help of the package at ${s.beforeNote} (tsx launcher, every command loaded)`, ms(s.beforeHelp));
      add(section, 'before ÷ now, hygiene --help', `${fmt(s.beforeHelp.medianMs / s.help.medianMs)}×`);
    } else {
      add(section, 'before: hygiene --help', s.beforeNote);
    }
  }
  if (only.has('identities')) {
    const section = `5. Outbound identities, ${IDENTITY_ADDRESSES} addresses at one provider, ${IDENTITY_RPM} RCPTs/min and 1 session per identity`;
    log(`identities: one identity, ${IDENTITY_ADDRESSES} addresses`);
    const one = await runIdentityBench(IDENTITY_ADDRESSES, IDENTITY_RPM, ['127.0.0.2']);
    log(`identities: two identities, ${IDENTITY_ADDRESSES} addresses`);
    const two = await runIdentityBench(IDENTITY_ADDRESSES, IDENTITY_RPM, ['127.0.0.2', '127.0.0.3']);
    const ratio = two.addressesPerSecond / one.addressesPerSecond;
    for (const r of [one, two]) {
      add(section, `${r.identities} identit${r.identities > 1 ? 'ies' : 'y'}: addresses/s (${fmt(r.elapsedMs / 1000)} s)`, fmt(r.addressesPerSecond, 2));
      add(section, `${r.identities} identit${r.identities > 1 ? 'ies' : 'y'}: right verdicts, throttles served, most sessions at once (provider-wide)`, `${r.right}/${r.addresses}, ${r.throttled}, ${r.maxSessionsAtOnce}`, `all right, 0, ≤ ${r.identities}`, r.right === r.addresses && r.throttled === 0 && r.maxSessionsAtOnce <= r.identities);
    }
    add(section, 'two ÷ one identity, addresses/s', `${fmt(ratio, 2)}×`, '≥ 1.6×', ratio >= 1.6);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

const table = renderTable(figures);
const text = `Machine: ${machine}\nTotal bench time: ${fmt((performance.now() - startedAt) / 1000)} s${quick ? ' (--quick sizes)' : ''}\n\n${table}\n`;
process.stdout.write(`\n${text}`);
if (flags.out) await writeFile(flags.out, text);
process.exit(0);

/**
 * Benchmark 4: start-up of the installed command. Packs this repository (npm pack, which builds
 * dist/), installs the tarball into an empty folder, and times `hygiene --help`, `--version` and
 * `verify --help` through node_modules/.bin/hygiene, as a user runs it: N runs each, the median.
 * For comparison in the same run: the dev launcher on the sources (node src/cli/bin.mjs, tsx), and
 * the package as it was before it was compiled (git archive of BEFORE_REF, packed and installed the
 * same way: the tsx launcher that loaded every command).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/cli-bin.ts';

/** The last commit whose package ran the sources through tsx (src/cli/bin.mjs) and loaded every command. */
export const BEFORE_REF = '1334b42';

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

export interface StartupFigures {
  help: Timing;
  version: Timing;
  verifyHelp: Timing;
  devLauncherHelp: Timing;
  /** `node -e 0`: Node's own start on this machine, for scale (it is most of `--help` now). */
  bareNode: Timing;
  /** null when the before ref cannot be packed here (a shallow clone, no git). */
  beforeHelp: Timing | null;
  beforeNote: string;
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd} (exit ${r.status}): ${r.stderr || r.error?.message || ''}`);
  return r.stdout;
}

/** npm pack in `dir`, npm install of the tarball into a fresh folder; returns its .bin/hygiene. */
function packAndInstall(dir: string, into: string): string {
  mkdirSync(into, { recursive: true });
  run('npm', ['pack', '--silent', '--pack-destination', into], dir);
  const tarball = readdirSync(into).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack in ${dir} wrote no tarball`);
  const app = path.join(into, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'startup-bench', version: '1.0.0', private: true }));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(into, tarball)], app);
  const bin = path.join(app, 'node_modules/.bin/hygiene');
  if (!existsSync(bin)) throw new Error(`no ${bin} after installing ${tarball}`);
  return bin;
}

export function time(cmd: string, args: string[], runs: number): Timing {
  // One untimed run first: the first start after an install pays for cold file caches.
  spawnSync(cmd, args, { stdio: 'ignore' });
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    ms.push(performance.now() - started);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  }
  ms.sort((a, b) => a - b);
  const mid = Math.floor(ms.length / 2);
  const median = ms.length % 2 === 1 ? ms[mid]! : (ms[mid - 1]! + ms[mid]!) / 2;
  return { medianMs: median, minMs: ms[0]!, maxMs: ms[ms.length - 1]!, runs };
}

export function runStartup(runs: number, beforeRef = BEFORE_REF): StartupFigures {
  const work = mkdtempSync(path.join(os.tmpdir(), 'hygiene-bench-startup-'));
  try {
    const bin = packAndInstall(REPO_ROOT, path.join(work, 'now'));
    const help = time(bin, ['--help'], runs);
    const version = time(bin, ['--version'], runs);
    const verifyHelp = time(bin, ['verify', '--help'], runs);
    const devLauncherHelp = time(process.execPath, [path.join(REPO_ROOT, 'src/cli/bin.mjs'), '--help'], runs);
    const bareNode = time(process.execPath, ['-e', '0'], runs);
    let beforeHelp: Timing | null = null;
    let beforeNote = `commit ${beforeRef}`;
    try {
      const src = path.join(work, 'before-src');
      mkdirSync(src);
      const archive = path.join(work, 'before.tar');
      run('git', ['archive', '--format=tar', '-o', archive, beforeRef], REPO_ROOT);
      run('tar', ['-xf', archive, '-C', src], work);
      beforeHelp = time(packAndInstall(src, path.join(work, 'before')), ['--help'], runs);
    } catch (err) {
      beforeNote = `commit ${beforeRef} not measured: ${(err as Error).message.split('\n')[0]}`;
    }
    return { help, version, verifyHelp, devLauncherHelp, bareNode, beforeHelp, beforeNote };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

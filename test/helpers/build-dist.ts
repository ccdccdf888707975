/**
 * Brings dist/ up to date with src/ (tsc -p tsconfig.build.json, incremental, then the non-TypeScript
 * files of src/ by package.json's build:assets): what the tests and the
 * bench spawn is the compiled CLI. A type error does not stop the build (tsc still emits; CI's
 * typecheck step is what fails on it); a build that produced no CLI does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CLI_BIN, REPO_ROOT } from './cli-bin.ts';

export function buildDist(): void {
  const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (result.status !== 0) process.stderr.write(`build-dist: tsc reported problems (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  if (result.error) throw result.error;
  if (!existsSync(CLI_BIN)) throw new Error(`build-dist: ${CLI_BIN} was not built (see the tsc output above)`);
  // The files tsc does not emit (src/providers/providers.json...): package.json's build:assets.
  const assets = spawnSync('npm', ['run', '--silent', 'build:assets'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (assets.status !== 0) throw new Error(`build-dist: npm run build:assets failed: ${assets.stderr || assets.error?.message}`);
}

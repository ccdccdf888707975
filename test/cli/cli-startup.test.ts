/**
 * The installed command's entry points that must stay instant: `hygiene --help`, `help` and
 * `--version` load none of fastify, bullmq or ioredis (commands are loaded lazily, only when they
 * run), the version is package.json's, and mistyped commands and flags get a "did you mean" on one
 * stderr line with exit code 2. Runs the compiled CLI (dist/cli/bin.js), as users do.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_BIN, REPO_ROOT } from '../helpers/cli-bin.ts';

const RECORDER = path.join(REPO_ROOT, 'test/helpers/record-module-loads.mjs');
const HEAVY = ['fastify', 'bullmq', 'ioredis'];
const scratch = mkdtempSync(path.join(os.tmpdir(), 'hygiene-startup-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI_BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: scratch, ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The dependency packages (node_modules/NAME) whose modules the command resolved. */
function packagesLoadedBy(args: string[]): { code: number | null; packages: Set<string>; modules: string[] } {
  const file = path.join(scratch, `modules-${args.join('_').replace(/\W+/g, '_')}.txt`);
  rmSync(file, { force: true });
  const r = spawnSync(process.execPath, ['--import', RECORDER, CLI_BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: scratch, RECORD_MODULES_FILE: file }, timeout: 30_000 });
  const modules = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const packages = new Set(modules.flatMap((url) => [...url.matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!)));
  return { code: r.status, packages, modules };
}

describe('start-up: help and version load no dependency', () => {
  it.each([['--help'], ['help'], ['-h'], ['--version'], ['version']])('hygiene %s loads neither fastify, bullmq nor ioredis', (arg) => {
    const run = packagesLoadedBy([arg]);
    expect(run.code).toBe(0);
    // The recorder works: it saw our own entry and main.
    expect(run.modules.some((url) => url.endsWith('/dist/cli/main.js'))).toBe(true);
    for (const heavy of HEAVY) expect(run.packages.has(heavy), `${heavy} was loaded by hygiene ${arg}`).toBe(false);
    // Not even one command module is loaded.
    expect(run.modules.filter((url) => /\/dist\/cli\/[a-z-]+-command\.js$/.test(url))).toEqual([]);
  });

  it('a command that runs loads its dependencies (the recorder sees them)', () => {
    const run = packagesLoadedBy(['verify', '--help']);
    expect(run.code).toBe(0);
    expect(run.packages.has('bullmq')).toBe(true);
    expect(run.packages.has('ioredis')).toBe(true);
    expect(run.packages.has('fastify')).toBe(false); // verify has no HTTP server
  });
});

describe('version', () => {
  const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  it.each([['--version'], ['-V'], ['version']])('hygiene %s prints package.json\'s version', (arg) => {
    const r = cli([arg]);
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('help', () => {
  it('hygiene --help lists every command, help and version, on stdout, exit 0', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['verify', 'worker', 'status', 'demo', 'probe', 'doctor', 'watch', 'schedule', 'bounces', 'suppress', 'api', 'help', 'version']) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    expect(r.stderr).toBe('');
  });

  it('hygiene help verify = hygiene verify --help', () => {
    const viaHelp = cli(['help', 'verify']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toMatch(/^Usage: hygiene verify FILE\.csv/);
    expect(cli(['verify', '--help']).stdout).toBe(viaHelp.stdout);
  });

  it('no command at all prints the usage and exits 2', () => {
    const r = cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^Usage: hygiene <command>/);
  });
});

describe('did you mean', () => {
  const oneLineError = (r: { code: number | null; stdout: string; stderr: string }) => {
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    return r.stderr;
  };

  it.each([
    ['verfy', 'verify'],
    ['veriyf', 'verify'],
    ['Verify', 'verify'],
    ['wroker', 'worker'],
    ['sched', 'schedule'],
    ['supress', 'suppress'],
    ['hepl', 'help'],
    ['verison', 'version'],
  ])('an unknown command "%s" suggests "%s"', (typed, meant) => {
    expect(oneLineError(cli([typed]))).toBe(`hygiene: unknown command "${typed}"; did you mean "${meant}"? (hygiene --help lists the commands)\n`);
  });

  it('an unknown command with nothing close gets no guess', () => {
    expect(oneLineError(cli(['frobnicate']))).toBe('hygiene: unknown command "frobnicate" (hygiene --help lists the commands)\n');
  });

  it('names of Object.prototype are not commands', () => {
    expect(oneLineError(cli(['constructor']))).toContain('unknown command "constructor"');
    expect(oneLineError(cli(['__proto__']))).toContain('unknown command "__proto__"');
  });

  it.each([
    [['verify', 'x.csv', '--ot', 'dir'], '--ot', '--out', 'verify'],
    [['verify', 'x.csv', '--jsno'], '--jsno', '--json', 'verify'],
    [['verify', 'x.csv', '--rejct', 'risky'], '--rejct', '--reject', 'verify'],
    [['verify', 'x.csv', '--no-local-worker'], '--no-local-worker', '--no-local-workers', 'verify'],
    [['verify', 'x.csv', '--output=dir'], '--output', '--out', 'verify'],
    [['api', '--prot', '8080'], '--prot', '--port', 'api'],
    [['probe', 'a@b.test', '--helo-nmae', 'x'], '--helo-nmae', '--helo-name', 'probe'],
  ])('%j: unknown flag %s suggests %s of that command', (args, typed, meant, command) => {
    const text = oneLineError(cli(args));
    expect(text).toContain(`unknown option "${typed}`);
    expect(text).toContain(`did you mean "${meant}"?`);
    expect(text).toContain(`(see hygiene ${command} --help)`);
  });

  it('a flag of another command is not suggested: the closest flag of this command is', () => {
    // --port belongs to api, not to verify
    const text = oneLineError(cli(['verify', 'x.csv', '--port', '1']));
    expect(text).not.toContain('"--port"?');
  });

  it('an option before the command is explained', () => {
    expect(oneLineError(cli(['--verison']))).toContain('did you mean "--version"?');
    expect(oneLineError(cli(['-v']))).toContain('did you mean "-V"?');
    expect(oneLineError(cli(['--out', 'x']))).toContain('Options go after the command');
  });
});

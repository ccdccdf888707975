/**
 * Every error is one line on stderr without a stack trace, with the code and what to do; exit code 2
 * for usage/config, 1 for a failed run. HYGIENE_DEBUG=1 (or LOG_LEVEL=debug) adds the stack.
 * Unit tests of the formatter for every system error code it explains (some, like ENOSPC or
 * EACCES as root, cannot be produced on this machine), then the real CLI (dist/cli/bin.js) on the
 * ones that can: a taken API port, --out that is a file, a missing input, an uncaught exception.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeError, isDebugging } from '../../src/cli/error-report.ts';
import { HygieneError } from '../../src/errors.ts';
import { CLI_BIN } from '../helpers/cli-bin.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/run-list.ts';

function systemError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), { errno: -1, ...fields });
}

const STACK_LINE = /^\s+at /m;

describe('describeError (unit)', () => {
  it.each([
    [systemError('listen EADDRINUSE: address already in use 127.0.0.1:8080', { code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: 8080 }), /^hygiene: listen EADDRINUSE: address already in use 127\.0\.0\.1:8080: another process already listens on 127\.0\.0\.1:8080: stop it, or choose another port \(hygiene api: --port or HYGIENE_API_PORT\)\n$/],
    [systemError("EEXIST: file already exists, mkdir 'out'", { code: 'EEXIST', syscall: 'mkdir', path: 'out' }), /EEXIST.*"out" already exists and is not a folder: choose another --out/],
    [systemError("EACCES: permission denied, open '/srv/out/a.cleaned.csv'", { code: 'EACCES', syscall: 'open', path: '/srv/out/a.cleaned.csv' }), /EACCES.*permission denied on "\/srv\/out\/a\.cleaned\.csv": choose a file or folder you can read and write \(e\.g\. another --out\)/],
    [systemError('listen EACCES: permission denied 0.0.0.0:80', { code: 'EACCES', syscall: 'listen', address: '0.0.0.0', port: 80 }), /ports below 1024 need privileges/],
    [systemError("ENOSPC: no space left on device, write", { code: 'ENOSPC', syscall: 'write', path: '/srv/out/a.cleaned.csv' }), /ENOSPC.*no space left on the disk holding "\/srv\/out\/a\.cleaned\.csv": free some space, or choose another --out/],
    [systemError("ENOENT: no such file or directory, open 'lists/a.csv'", { code: 'ENOENT', syscall: 'open', path: 'lists/a.csv' }), /ENOENT.*"lists\/a\.csv" does not exist: check the path/],
    [systemError('spawn redis-server ENOENT', { code: 'ENOENT', syscall: 'spawn redis-server', path: 'redis-server' }), /the program "redis-server" is not installed or not on PATH/],
    [systemError("ENOTDIR: not a directory, mkdir 'a.csv/out'", { code: 'ENOTDIR', syscall: 'mkdir', path: 'a.csv/out' }), /part of "a\.csv\/out" is a file, not a folder/],
    [systemError("EROFS: read-only file system, open '/usr/x'", { code: 'EROFS', syscall: 'open', path: '/usr/x' }), /read-only file system: choose another --out/],
    [systemError('EMFILE: too many open files', { code: 'EMFILE', syscall: 'open' }), /ulimit -n/],
    [systemError('connect ECONNREFUSED 127.0.0.1:6380', { code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port: 6380 }), /nothing answers at 127\.0\.0\.1:6380/],
    [systemError('listen EADDRNOTAVAIL: address not available 10.9.9.9:8080', { code: 'EADDRNOTAVAIL', syscall: 'listen', address: '10.9.9.9', port: 8080 }), /not an address of this machine/],
  ])('%s', (err, expected) => {
    const report = describeError(err, false);
    expect(report.exitCode).toBe(1);
    expect(report.text).toMatch(expected);
    expect(report.text.split('\n').filter(Boolean)).toHaveLength(1);
    expect(report.text).not.toMatch(STACK_LINE);
  });

  it('a system error code missing from the message is added', () => {
    const report = describeError(systemError('write failed', { code: 'EPIPE', syscall: 'write' }), false);
    expect(report.text).toBe('hygiene: write failed (EPIPE)\n');
  });

  it('usage and config errors exit 2; a config error keeps its list of problems', () => {
    expect(describeError(new HygieneError('USAGE', 'verify takes exactly one CSV file'), false)).toEqual({ text: 'hygiene: verify takes exactly one CSV file\n', exitCode: 2 });
    const config = describeError(new HygieneError('CONFIG_INVALID', 'Invalid configuration:\n  - A\n  - B', { problems: ['A', 'B'] }), false);
    expect(config).toEqual({ text: 'hygiene: Invalid configuration:\nhygiene:   - A\nhygiene:   - B\n', exitCode: 2 });
    const parse = describeError(Object.assign(new TypeError("Option '--out <value>' argument missing"), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' }), false);
    expect(parse).toEqual({ text: "hygiene: Option '--out <value>' argument missing\n", exitCode: 2 });
  });

  it('a run failure of ours exits 1 on one line, even when its message has several', () => {
    expect(describeError(new HygieneError('REDIS_UNAVAILABLE', 'Redis does not answer\nat redis://x'), false)).toEqual({ text: 'hygiene: Redis does not answer at redis://x\n', exitCode: 1 });
  });

  it('a bug (not a system error) says so, on one line, and how to get the stack', () => {
    const report = describeError(new TypeError("Cannot read properties of undefined (reading 'x')"), false);
    expect(report).toEqual({ text: "hygiene: unexpected error: TypeError: Cannot read properties of undefined (reading 'x') — this is a bug in hygiene; run again with HYGIENE_DEBUG=1 for the stack trace and report it\n", exitCode: 1 });
    expect(describeError('a string', false).text).toMatch(/^hygiene: unexpected error: Error: a string — /);
  });

  it('debugging adds the stack and the causes after the one line', () => {
    const cause = new Error('inner cause');
    const report = describeError(new HygieneError('LIST_FAILED', 'the list failed', { listId: 'l1' }, { cause }), true);
    const [first, ...rest] = report.text.split('\n');
    expect(first).toBe('hygiene: the list failed');
    expect(rest.join('\n')).toMatch(STACK_LINE);
    expect(rest.join('\n')).toContain('Caused by: Error: inner cause');
  });

  it.each([
    [{ HYGIENE_DEBUG: '1' }, undefined, true],
    [{ HYGIENE_DEBUG: 'true' }, undefined, true],
    [{ HYGIENE_DEBUG: '0' }, undefined, false],
    [{ HYGIENE_DEBUG: '' }, undefined, false],
    [{ LOG_LEVEL: 'debug' }, undefined, true],
    [{ LOG_LEVEL: 'trace' }, undefined, true],
    [{ LOG_LEVEL: 'info' }, undefined, false],
    [{ LOG_LEVEL: 'info' }, 'debug', true], // --log-level debug wins over the environment
    [{}, undefined, false],
  ])('isDebugging(%j, %j) = %s', (env, flag, expected) => expect(isDebugging(env, flag)).toBe(expected));
});

describe('the CLI (dist/cli/bin.js)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hygiene-errors-'));
  const prefix = uniquePrefix('errors');
  writeFileSync(path.join(dir, 'list.csv'), 'email\nann@example.test\n');
  writeFileSync(path.join(dir, 'a-file'), 'not a folder\n');
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deletePrefix(prefix);
  });
  const baseEnv = { PATH: process.env.PATH ?? '', HOME: dir, REDIS_URL, HYGIENE_PREFIX: prefix };

  function cli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
    const r = spawnSync(process.execPath, [...nodeArgs, CLI_BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...baseEnv, ...env }, timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  /** The one "hygiene:" line, checking there is exactly one and no stack trace. */
  function errorLine(stderr: string): string {
    const lines = stderr.split('\n').filter((l) => l.startsWith('hygiene:'));
    expect(lines, stderr).toHaveLength(1);
    expect(stderr).not.toMatch(STACK_LINE);
    return lines[0]!;
  }

  it('--out naming an existing file: EEXIST, what to do, exit 1', () => {
    const r = cli(['verify', 'list.csv', '--out', 'a-file', '--syntax-only']);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toBe(`hygiene: EEXIST: file already exists, mkdir 'a-file': "a-file" already exists and is not a folder: choose another --out, or move that file away`);
  });

  it('--out under a file: ENOTDIR, exit 1', () => {
    const r = cli(['verify', 'list.csv', '--out', 'a-file/results', '--syntax-only']);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toContain('ENOTDIR');
  });

  it('a missing input file: one line, exit 1', () => {
    const r = cli(['verify', 'missing.csv', '--out', 'out', '--syntax-only']);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toMatch(/^hygiene: The input file .*missing\.csv does not exist\.$/);
  });

  it('the API port already taken: EADDRINUSE with the port and --port, exit 1', async () => {
    const taken = net.createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as net.AddressInfo).port;
    try {
      // spawn (not spawnSync): the port's owner lives in this process and must keep accepting.
      const child = spawn(process.execPath, [CLI_BIN, 'api', '--host', '127.0.0.1', '--port', String(port), '--no-workers'], {
        cwd: dir,
        env: { ...baseEnv, HYGIENE_API_KEYS: 'k'.repeat(24), HYGIENE_HELO_NAME: 'verify.example.com', HYGIENE_MAIL_FROM: 'verify@example.com', LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code, stderr).toBe(1);
      expect(errorLine(stderr)).toBe(`hygiene: listen EADDRINUSE: address already in use 127.0.0.1:${port}: another process already listens on 127.0.0.1:${port}: stop it, or choose another port (hygiene api: --port or HYGIENE_API_PORT)`);
    } finally {
      taken.close();
    }
  });

  it('HYGIENE_DEBUG=1 or LOG_LEVEL=debug adds the stack, mapped to the TypeScript sources', () => {
    for (const env of [{ HYGIENE_DEBUG: '1' }, { LOG_LEVEL: 'debug' }] as Record<string, string>[]) {
      const r = cli(['verify', 'list.csv', '--ot', 'x'], env);
      expect(r.code).toBe(2);
      const [first, ...rest] = r.stderr.split('\n');
      expect(first).toContain('unknown option "--ot"; did you mean "--out"?');
      expect(rest.join('\n')).toMatch(STACK_LINE);
      expect(rest.join('\n')).toMatch(/src\/cli\/main\.ts:\d+/);
    }
  });

  it('an uncaught exception or unhandled rejection is one line too, exit 1', () => {
    // Injected before the CLI loads; fires once bin.js has installed its handlers.
    const once = (code: string, event: string) => `data:text/javascript,const t = setInterval(() => { if (process.listenerCount('${event}') > 0) { clearInterval(t); ${code} } }, 5)`;
    const r = cli(['--version'], {}, ['--import', once("throw new TypeError('boom')", 'uncaughtException')]);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toMatch(/^hygiene: unexpected error: TypeError: boom — this is a bug in hygiene; run again with HYGIENE_DEBUG=1/);
    const r2 = cli(['--version'], {}, ['--import', once("Promise.reject(new RangeError('nope'))", 'unhandledRejection')]);
    expect(r2.code).toBe(1);
    expect(errorLine(r2.stderr)).toMatch(/^hygiene: unexpected error: RangeError: nope — /);
  });
});

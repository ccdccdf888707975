/**
 * docker-compose.yml: every hygiene service (api, worker, watcher) gets the same base environment
 * (heap cap, DNS servers, session limit, webhook secret...), published ports listen on loopback by
 * default, services run the compiled build, and each service's command is a real command with real
 * flags. Checked structurally with a YAML parser (no Docker needed), then with `docker compose
 * config` where a Docker client with the compose plugin is installed (it needs no engine to parse);
 * skipped with the reason otherwise.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS } from '../../src/cli/commands.ts';
import { REPO_ROOT } from '../helpers/cli-bin.ts';

const FILE = path.join(REPO_ROOT, 'docker-compose.yml');
const HYGIENE_SERVICES = ['api', 'worker', 'watcher'];
/** What no hygiene service may run without (the issue: the api service had lost them). */
const MUST_SHARE = ['NODE_OPTIONS', 'REDIS_URL', 'HYGIENE_PREFIX', 'HYGIENE_DATA_DIR', 'HYGIENE_HELO_NAME', 'HYGIENE_MAIL_FROM', 'HYGIENE_DNS_SERVERS', 'HYGIENE_MAX_SESSIONS_PER_MX', 'HYGIENE_WEBHOOK_SECRET', 'LOG_LEVEL'];

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: (string | { host_ip?: string; target: number; published?: string | number })[];
}
interface ComposeFile {
  services: Record<string, Service>;
  'x-hygiene-environment': Record<string, string>;
}

/** A compose value with ${VAR:-default} / ${VAR-default} / ${VAR} as it reads with nothing exported. */
function withDefaults(value: string): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback: string | undefined) => fallback ?? '');
}

/** The host address of a published port (short "ip:host:container" or long syntax); undefined = every interface. */
function hostAddress(port: NonNullable<Service['ports']>[number]): string | undefined {
  if (typeof port !== 'string') return port.host_ip || undefined;
  const parts = withDefaults(port).replace(/\/(tcp|udp)$/, '').split(':');
  return parts.length === 3 ? parts[0] : undefined;
}

describe('docker-compose.yml, parsed (no Docker needed)', () => {
  const compose = parse(readFileSync(FILE, 'utf8'), { merge: true }) as ComposeFile;
  const base = compose['x-hygiene-environment'];

  it('has the shared base environment, with the heap cap', () => {
    for (const name of MUST_SHARE) expect(Object.keys(base)).toContain(name);
    expect(withDefaults(base.NODE_OPTIONS!)).toBe('--max-old-space-size=512');
  });

  it.each(HYGIENE_SERVICES)('service %s gets every variable of the base environment, unchanged', (name) => {
    const env = compose.services[name]?.environment ?? {};
    for (const [key, value] of Object.entries(base)) expect(env[key], `${name}: ${key}`).toBe(value);
  });

  it('only the api gets the API keys', () => {
    expect(compose.services.api?.environment?.HYGIENE_API_KEYS).toBeDefined();
    for (const name of ['worker', 'watcher']) expect(compose.services[name]?.environment?.HYGIENE_API_KEYS).toBeUndefined();
  });

  it('every published port listens on 127.0.0.1 unless told otherwise', () => {
    const published = Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, p] as const));
    expect(published.map(([name]) => name).sort()).toEqual(['api', 'redis']);
    for (const [name, port] of published) expect(hostAddress(port), `${name}: ${JSON.stringify(port)}`).toBe('127.0.0.1');
  });

  it.each(HYGIENE_SERVICES)('service %s runs the compiled CLI with a real command and real flags', async (name) => {
    const command = compose.services[name]?.command ?? [];
    expect(command.slice(0, 2)).toEqual(['node', 'dist/cli/bin.js']);
    const [sub, ...args] = command.slice(2);
    expect(Object.keys(COMMANDS)).toContain(sub);
    const spec = await COMMANDS[sub!]!();
    expect(() => parseArgs({ args, options: spec.options, allowPositionals: true, strict: true })).not.toThrow();
  });

  it('the deps service installs with the build tools (npm ci builds dist/), on the same image as the services', () => {
    const deps = compose.services.deps!;
    const script = (deps.command ?? []).join(' ');
    expect(script).toMatch(/npm ci(?![^&]*--omit=dev)/);
    expect(script).toContain('npm prune --omit=dev');
    for (const name of HYGIENE_SERVICES) expect(compose.services[name]?.image).toBe(deps.image);
  });

  it('nothing runs the TypeScript sources', () => {
    expect(readFileSync(FILE, 'utf8')).not.toMatch(/src\/cli|tsx/);
  });
});

/** `docker compose` (plugin) or `docker-compose` (standalone), when one is installed. */
function composeCommand(): { argv: string[] } | { missing: string } {
  const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  if (plugin.status === 0) return { argv: ['docker', 'compose'] };
  const standalone = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  if (standalone.status === 0) return { argv: ['docker-compose'] };
  if (plugin.error) return { missing: 'no docker client on PATH' };
  return { missing: `the docker client has no compose plugin (${(plugin.stderr || plugin.stdout).trim().split('\n')[0]}) and docker-compose is not installed` };
}

describe('docker compose config', () => {
  const found = composeCommand();
  it('accepts the file and resolves the shared environment and loopback ports', (ctx) => {
    if ('missing' in found) return ctx.skip(`docker compose config not run: ${found.missing}`);
    const [bin, ...pre] = found.argv;
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HYGIENE_WEBHOOK_SECRET: 'w'.repeat(20), HYGIENE_API_KEYS: 'k'.repeat(20) };
    const r = spawnSync(bin!, [...pre, '-f', FILE, 'config'], { encoding: 'utf8', env, cwd: REPO_ROOT });
    expect(r.status, r.stderr).toBe(0);
    const resolved = parse(r.stdout) as { services: Record<string, Service> };
    for (const name of HYGIENE_SERVICES) {
      const environment = resolved.services[name]?.environment ?? {};
      expect(environment.NODE_OPTIONS, name).toBe('--max-old-space-size=512');
      expect(environment.HYGIENE_WEBHOOK_SECRET, name).toBe('w'.repeat(20));
      expect(environment.HYGIENE_MAX_SESSIONS_PER_MX, name).toBe('2');
    }
    for (const [name, service] of Object.entries(resolved.services)) for (const port of service.ports ?? []) expect(hostAddress(port), name).toBe('127.0.0.1');
  });
});

/**
 * How the CLI reports a failure: one line on stderr — what failed, its code, what to do — and no
 * stack trace, unless debugging is on (HYGIENE_DEBUG=1, or LOG_LEVEL / --log-level debug or trace),
 * which adds the stack (and the causes' stacks) after that line.
 * Exit codes: 2 for bad usage or configuration, 1 for everything else (the run failed).
 */
import { isHygieneError } from '../errors.ts';

export interface ErrorReport {
  /** What goes to stderr: one line (a config error lists each problem on its own "hygiene:" line). */
  text: string;
  exitCode: 1 | 2;
}

/** A Node.js system error (fs, net, child_process): its code and whatever it names. */
interface SystemErrorFields {
  code: string;
  syscall?: string;
  path?: string;
  dest?: string;
  address?: string;
  hostname?: string;
  port?: number;
}

export function isDebugging(env: NodeJS.ProcessEnv, logLevel?: unknown): boolean {
  const debug = env.HYGIENE_DEBUG;
  if (debug !== undefined && debug !== '' && debug !== '0' && debug.toLowerCase() !== 'false') return true;
  const level = typeof logLevel === 'string' ? logLevel : env.LOG_LEVEL;
  return level === 'debug' || level === 'trace';
}

export function describeError(err: unknown, debug: boolean): ErrorReport {
  const line = firstLine(err);
  // Every line starts with "hygiene:" (only a config error has several: one per problem).
  const text = `${line.text.split('\n').map((l) => `hygiene: ${l}`).join('\n')}\n${debug ? stackOf(err) : ''}`;
  return { text, exitCode: line.exitCode };
}

function firstLine(err: unknown): { text: string; exitCode: 1 | 2 } {
  if (isHygieneError(err)) {
    const usage = err.code === 'CONFIG_INVALID' || err.code === 'USAGE';
    // A config error keeps its list of problems, one per line (every problem at once).
    return { text: err.code === 'CONFIG_INVALID' ? err.message : oneLine(err.message), exitCode: usage ? 2 : 1 };
  }
  const code = codeOf(err);
  if (code?.startsWith('ERR_PARSE_ARGS')) return { text: oneLine(messageOf(err)), exitCode: 2 };
  if (code !== undefined && isSystemError(err)) {
    const hint = systemErrorHint(err);
    const message = oneLine(messageOf(err));
    // Node's messages usually start with the code ("listen EADDRINUSE: address already in use …").
    return { text: `${message}${message.includes(code) ? '' : ` (${code})`}${hint ? `: ${hint}` : ''}`, exitCode: 1 };
  }
  const name = err instanceof Error ? err.name : 'Error';
  return {
    text: `unexpected error: ${name}: ${oneLine(messageOf(err))}${code ? ` (${code})` : ''} — this is a bug in hygiene; run again with HYGIENE_DEBUG=1 for the stack trace and report it`,
    exitCode: 1,
  };
}

/** What to do about a system error, by its code (and the path, address or port it names). */
export function systemErrorHint(err: SystemErrorFields): string | undefined {
  const where = err.path ? `"${err.path}"` : undefined;
  const endpoint = err.port !== undefined ? `${err.address ?? ''}:${err.port}` : err.address;
  switch (err.code) {
    case 'EADDRINUSE':
      return `another process already listens on ${endpoint ?? 'that address'}: stop it, or choose another port (hygiene api: --port or HYGIENE_API_PORT)`;
    case 'EADDRNOTAVAIL':
      return `${endpoint ?? 'that address'} is not an address of this machine: check --host / HYGIENE_API_HOST or HYGIENE_LOCAL_ADDRESS`;
    case 'EACCES':
    case 'EPERM':
      if (err.syscall === 'listen' || err.syscall === 'bind') return `not allowed to listen on ${endpoint ?? 'that port'}: ports below 1024 need privileges, choose a port from 1024 up`;
      return `permission denied${where ? ` on ${where}` : ''}: choose a file or folder you can read and write (e.g. another --out), or fix its permissions`;
    case 'EEXIST':
      return `${where ?? 'the path'} already exists and is not a folder: choose another --out, or move that file away`;
    case 'ENOTDIR':
      return `part of ${where ?? 'the path'} is a file, not a folder: choose another --out`;
    case 'EISDIR':
      return `${where ?? 'the path'} is a folder: give a file`;
    case 'ENOENT':
      if (err.syscall?.startsWith('spawn')) return `the program ${where ?? ''} is not installed or not on PATH`;
      return `${where ?? 'the file or folder'} does not exist: check the path${err.dest ? ` (and "${err.dest}")` : ''}`;
    case 'ENOSPC':
      return `no space left on the disk${where ? ` holding ${where}` : ''}: free some space, or choose another --out`;
    case 'EROFS':
      return `${where ?? 'the path'} is on a read-only file system: choose another --out`;
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files: raise the limit (ulimit -n) or lower --concurrency';
    case 'ECONNREFUSED':
      return `nothing answers at ${endpoint ?? 'that address'}: is the server running? (Redis: REDIS_URL)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${err.hostname ?? err.address ?? 'that host name'}: check the name and this machine's DNS`;
    default:
      return undefined;
  }
}

function isSystemError(err: unknown): err is Error & SystemErrorFields {
  // Node's system errors carry an upper-case errno name ("EADDRINUSE") and the syscall that failed.
  const code = codeOf(err);
  return err instanceof Error && code !== undefined && /^E[A-Z0-9_]+$/.test(code) && (typeof (err as { syscall?: unknown }).syscall === 'string' || typeof (err as { errno?: unknown }).errno === 'number');
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').trim();
}

function stackOf(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(`${depth === 0 ? '' : 'Caused by: '}${current instanceof Error ? (current.stack ?? current.message) : String(current)}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return `${parts.join('\n')}\n`;
}

/**
 * Command-line entry: parses argv, builds the Config, and calls the app. No logic of its own.
 * Exit codes: 0 success, 1 the run failed (one clear line on stderr), 2 bad usage or config,
 * 130/143 interrupted by SIGINT/SIGTERM.
 * Only the command that runs is loaded (commands.ts): help and version load no dependency.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, probeIdentity, type FlagValues } from '../config/config.ts';
import { HygieneError } from '../errors.ts';
import type { Command } from './command.ts';
import { COMMANDS, USAGE } from './commands.ts';
import { closestMatch } from './did-you-mean.ts';
import { describeError, isDebugging } from './error-report.ts';

const HELP = new Set(['help', '--help', '-h']);
const VERSION = new Set(['version', '--version', '-V']);

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  let flags: FlagValues = {};
  try {
    if (!name || (HELP.has(name) && rest[0] === undefined)) {
      process.stdout.write(USAGE);
      return name ? 0 : 2;
    }
    if (VERSION.has(name)) {
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    if (HELP.has(name)) {
      // `hygiene help verify` = `hygiene verify --help`
      process.stdout.write(`${(await loadCommand(rest[0]!)).usage}\n`);
      return 0;
    }
    const command = await loadCommand(name);
    const { values, positionals } = parseCommandLine(name, command, rest);
    flags = { ...values } as FlagValues;
    if (flags['log-level'] === undefined && env.LOG_LEVEL === undefined) flags['log-level'] = command.defaultLogLevel ?? 'info';
    if (flags.help) {
      process.stdout.write(`${command.usage}\n`);
      return 0;
    }
    const config = loadConfig(env, flags);
    if (command.probes?.({ flags, positionals })) probeIdentity(config);
    return await command.run({ config, flags, positionals, env });
  } catch (err) {
    const report = describeError(err, isDebugging(env, flags['log-level']));
    process.stderr.write(report.text);
    return report.exitCode;
  }
}

async function loadCommand(name: string): Promise<Command> {
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load) return load();
  const known = Object.keys(COMMANDS);
  if (name.startsWith('-')) {
    const hint = closestMatch(name, ['--help', '--version', '-h', '-V']);
    throw usageError(`unknown option "${name}"${hint ? `; did you mean "${hint}"?` : ''} Options go after the command: hygiene <command> [options] (hygiene --help lists the commands)`);
  }
  const hint = closestMatch(name, [...known, 'help', 'version']);
  throw usageError(`unknown command "${name}"${hint ? `; did you mean "${hint}"?` : ''} (hygiene --help lists the commands)`);
}

/** parseArgs with the command's flags; an unknown flag gets the closest flag of that command. */
function parseCommandLine(name: string, command: Command, args: string[]): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args, options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    const unknown = (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /Unknown option '([^']+)'/.exec((err as Error).message)?.[1] : undefined;
    if (unknown === undefined) throw err;
    const flagNames = Object.entries(command.options).flatMap(([long, spec]) => [`--${long}`, ...(spec.short ? [`-${spec.short}`] : [])]);
    const hint = closestMatch(unknown.split('=')[0]!, flagNames);
    throw usageError(`unknown option "${unknown}"${hint ? `; did you mean "${hint}"?` : ''} (see hygiene ${name} --help)`);
  }
}

/** The version in the package.json beside src/ or dist/ (the same relative place in both). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export function usageError(message: string): HygieneError {
  return new HygieneError('USAGE', message);
}

/**
 * Command-line entry: parses argv, builds the Config, and calls the app. No logic of its own.
 * Exit codes: 0 success, 1 the run failed (one clear line on stderr), 2 bad usage or config,
 * 130/143 interrupted by SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { loadConfig, probeIdentity, type FlagValues } from '../config/config.ts';
import { HygieneError, isHygieneError } from '../errors.ts';
import { COMMANDS, USAGE } from './commands.ts';

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`hygiene: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    const flags = { ...values } as FlagValues;
    if (flags['log-level'] === undefined && env.LOG_LEVEL === undefined) flags['log-level'] = command.defaultLogLevel ?? 'info';
    if (flags.help) {
      process.stdout.write(`${command.usage}\n`);
      return 0;
    }
    const config = loadConfig(env, flags);
    if (command.probes?.({ flags, positionals })) probeIdentity(config);
    return await command.run({ config, flags, positionals, env });
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (isHygieneError(err)) {
    // One line per problem (a configuration error lists each on its own line).
    process.stderr.write(`${err.message.split('\n').map((line) => `hygiene: ${line}`).join('\n')}\n`);
    return err.code === 'CONFIG_INVALID' || err.code === 'USAGE' ? 2 : 1;
  }
  const code = (err as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`hygiene: ${(err as Error).message}\n`);
    return 2;
  }
  process.stderr.write(`hygiene: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

export function usageError(message: string): HygieneError {
  return new HygieneError('USAGE', message);
}

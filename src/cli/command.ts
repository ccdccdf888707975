/** The shape of a CLI command and the flags every command shares. */
import type { ParseArgsConfig } from 'node:util';
import type { Config, FlagValues } from '../config/config.ts';

export interface CommandContext {
  config: Config;
  flags: FlagValues;
  positionals: string[];
  env: NodeJS.ProcessEnv;
}

export interface Command {
  usage: string;
  /** LOG_LEVEL when none is set: quiet for interactive commands, info for daemons. */
  defaultLogLevel?: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /**
   * True when this invocation talks SMTP to mail servers: then a HELO name and sender are required
   * at start-up (exit code 2 with one line naming HYGIENE_HELO_NAME when there is none), before
   * anything is enqueued. Commands that never probe leave it out and run without them.
   */
  probes?: (ctx: Pick<CommandContext, 'flags' | 'positionals'>) => boolean;
  run(ctx: CommandContext): Promise<number>;
}

/** Flags every command accepts (they override the matching environment variables). */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'redis-url': { type: 'string' },
  prefix: { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'dns-servers': { type: 'string' },
  'smtp-port': { type: 'string' },
  'helo-name': { type: 'string' },
  'mail-from': { type: 'string' },
  'local-address': { type: 'string' },
  'smtp-proxy': { type: 'string' },
  'require-tls': { type: 'boolean' },
  'max-sessions-per-mx': { type: 'string' },
  concurrency: { type: 'string' },
  'no-catch-all': { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;


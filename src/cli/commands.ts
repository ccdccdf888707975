/**
 * The CLI's commands, loaded lazily: each entry imports its module only when that command runs, so
 * `hygiene --help`, `help` and `--version` load none of fastify, bullmq or ioredis (start-up stays
 * well under half a second; test/cli/cli-startup.test.ts checks it). Each command module declares
 * its flags (node:util parseArgs) and a run function that wires the app.
 * Adding a command = one line in COMMANDS (and its line in USAGE).
 */
import type { Command } from './command.ts';

export type CommandLoader = () => Promise<Command>;

export const COMMANDS: Readonly<Record<string, CommandLoader>> = {
  verify: async () => (await import('./verify-command.ts')).verifyCommand,
  worker: async () => (await import('./worker-command.ts')).workerCommand,
  status: async () => (await import('./status-command.ts')).statusCommand,
  demo: async () => (await import('./demo-command.ts')).demoCommand,
  world: async () => (await import('./demo-command.ts')).worldCommand,
  probe: async () => (await import('./probe-command.ts')).probeCommand,
  doctor: async () => (await import('./doctor-command.ts')).doctorCommand,
  watch: async () => (await import('./watch-command.ts')).watchCommand,
  schedule: async () => (await import('./schedule-command.ts')).scheduleCommand,
  bounces: async () => (await import('./bounces-command.ts')).bouncesCommand,
  suppress: async () => (await import('./suppress-command.ts')).suppressCommand,
  api: async () => (await import('./api-command.ts')).apiCommand,
  cache: async () => (await import('./cache-command.ts')).cacheCommand,
};

export const USAGE = `Usage: hygiene <command> [options]

Commands:
  verify FILE.csv [--out DIR]   verify every address of a contact CSV; writes
                                 DIR/NAME.cleaned.csv, NAME.rejected.csv, NAME.report.json
  worker                        run verify workers only (a fleet sharing one Redis)
  status LIST_ID                show a list's state and counts
  demo                          run everything against a simulated mail world on loopback
  world                         keep that simulated world running and print the exports that point every command at it
  probe ADDRESS                 diagnose one address: MX lookup, live SMTP transcript, verdict
  doctor [--domain D] [--ip A]  check Redis, DNS, outbound port 25, the HELO name's PTR and (--ip) DNS blocklists
  watch DIR                     verify every CSV dropped into DIR/inbox (results in DIR/done, DIR/failed)
  schedule add|list|remove|run  scheduled re-verification of lists, with change reports
  bounces FILE...               put hard bounces from Postfix/Exim logs and DSN messages on the suppression list
  suppress list|add|remove      manage the suppression list
  api                           HTTP API: upload lists, poll, download; verify one address
  cache stats|clear             what is cached (verdicts, catch-all, MX) and forgetting it
  help [COMMAND]                this text, or the options of COMMAND
  version                       the installed version (also --version, -V)

Run "hygiene <command> --help" for the options of a command. Configuration: see README.md.
Errors are one line on stderr; HYGIENE_DEBUG=1 adds the stack trace.
`;

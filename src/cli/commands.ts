/**
 * The CLI's commands: each declares its flags (node:util parseArgs) and a run function that wires
 * the app. Adding a command = adding an entry here.
 */
import type { Command } from './command.ts';
import { verifyCommand } from './verify-command.ts';
import { workerCommand } from './worker-command.ts';
import { statusCommand } from './status-command.ts';
import { demoCommand, worldCommand } from './demo-command.ts';
import { probeCommand } from './probe-command.ts';
import { doctorCommand } from './doctor-command.ts';
import { watchCommand } from './watch-command.ts';
import { scheduleCommand } from './schedule-command.ts';
import { bouncesCommand } from './bounces-command.ts';
import { suppressCommand } from './suppress-command.ts';
import { apiCommand } from './api-command.ts';
import { cacheCommand } from './cache-command.ts';

export const COMMANDS: Record<string, Command> = {
  verify: verifyCommand,
  worker: workerCommand,
  status: statusCommand,
  demo: demoCommand,
  world: worldCommand,
  probe: probeCommand,
  doctor: doctorCommand,
  watch: watchCommand,
  schedule: scheduleCommand,
  bounces: bouncesCommand,
  suppress: suppressCommand,
  api: apiCommand,
  cache: cacheCommand,
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
  doctor [--domain D]           check Redis, DNS, outbound port 25 and the HELO name's PTR
  watch DIR                     verify every CSV dropped into DIR/inbox (results in DIR/done, DIR/failed)
  schedule add|list|remove|run  scheduled re-verification of lists, with change reports
  bounces FILE...               put hard bounces from Postfix/Exim logs and DSN messages on the suppression list
  suppress list|add|remove      manage the suppression list
  api                           HTTP API: upload lists, poll, download; verify one address
  cache stats|clear             what is cached (verdicts, catch-all, MX) and forgetting it

Run "hygiene <command> --help" for the options of a command. Configuration: see README.md.
`;

/** `hygiene watch DIR`: verify every CSV dropped into DIR/inbox (layout: src/watch/watch-layout.ts). */
import { HygieneError } from '../errors.ts';
import { startFolderWatcher } from '../watch/folder-watcher.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { onShutdownSignal } from './shutdown.ts';
import { startDaemonRuntime } from './daemon-runtime.ts';

function positiveInt(raw: unknown, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new HygieneError('USAGE', `${name} must be a whole number between ${min} and ${max}, got "${String(raw)}"`);
  return value;
}

export const watchCommand: Command = {
  probes: ({ flags }) => flags['syntax-only'] !== true,
  usage: `Usage: hygiene watch DIR [options]

Watches DIR/inbox/ and verifies every CSV dropped there; results go to DIR/done/JOB/ (the input,
NAME.cleaned.csv, NAME.rejected.csv, NAME.report.json) or DIR/failed/JOB/ (the input and error.txt).
Runs until SIGINT/SIGTERM; unfinished jobs stay in DIR/processing/ and resume on the next start.

  --stable-ms N          take a file once its size was unchanged N ms (default 2000); or write it
                         as NAME.part and rename it when complete
  --parallel N           lists verified at once (default 2)
  --email-column NAME|N  the email column (default: detected per file)
  --syntax-only          no DNS or SMTP
  --no-local-workers     only enqueue; "hygiene worker" processes do the probing
  plus the common options (see README)`,
  options: {
    ...COMMON_OPTIONS,
    'stable-ms': { type: 'string' },
    parallel: { type: 'string' },
    'email-column': { type: 'string' },
    'syntax-only': { type: 'boolean' },
    'no-local-workers': { type: 'boolean' },
  },
  async run({ config, flags, positionals }) {
    const dir = positionals[0];
    if (!dir || positionals.length > 1) throw new HygieneError('USAGE', 'watch takes exactly one folder: hygiene watch DIR');
    const stableMs = positiveInt(flags['stable-ms'], '--stable-ms', 2_000, 0, 3_600_000);
    const parallel = positiveInt(flags.parallel, '--parallel', 2, 1, 64);
    // A daemon needs a Redis that outlives it (resumable jobs): never a private one.
    const { runtime, logger } = await startDaemonRuntime(config, flags);
    let watcher;
    try {
      watcher = await startFolderWatcher({
        dir,
        runtime,
        logger,
        stableMs,
        parallel,
        emailColumn: typeof flags['email-column'] === 'string' ? flags['email-column'] : undefined,
        onSettled: (e) => process.stdout.write(`${e.outcome}\t${e.originalName}\t${e.folder}${e.reason ? `\t${e.reason.replace(/\s+/g, ' ')}` : ''}\n`),
      });
    } catch (err) {
      await runtime.close();
      throw err;
    }
    const active = watcher;
    await new Promise<void>((resolve) => {
      onShutdownSignal(async () => {
        await active.close();
        await runtime.close();
        resolve();
      });
    });
    return 0;
  },
};

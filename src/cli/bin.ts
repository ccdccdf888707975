#!/usr/bin/env -S node --max-old-space-size=512
// The installed `hygiene` command (package.json "bin" → dist/cli/bin.js, compiled from this file).
// The heap cap: a list's live heap is a few tens of MB whatever its size, but without an explicit
// cap V8 sizes the old generation from the machine's RAM and lets garbage pile up (peak RSS ~270 MB
// on a 1M-row list instead of ~170 MB). npm scripts and docker-compose pass the same flag.
// Plain compiled JavaScript: no TypeScript loader at run time, and main loads only the command
// that runs.
import { describeError, isDebugging } from './error-report.ts';

const debug = isDebugging(process.env);
// Stack traces point at the TypeScript sources (dist/ ships its source maps) when debugging.
if (debug) process.setSourceMapsEnabled(true);
// A failure outside a command's own error handling (an 'error' event nobody listens to, a rejected
// promise nobody awaits) is still one line, not Node's stack dump; the process ends as Node would.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    process.stderr.write(describeError(err, debug).text);
    process.exit(1);
  });
}
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));

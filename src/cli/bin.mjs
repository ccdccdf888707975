#!/usr/bin/env -S node --max-old-space-size=512
// The heap cap: a list's live heap is a few tens of MB whatever its size, but without an explicit
// cap V8 sizes the old generation from the machine's RAM and lets garbage pile up (peak RSS ~270 MB
// on a 1M-row list instead of ~170 MB). npm scripts and docker-compose pass the same flag.
// Entry shim: registers the TypeScript loader (tsx) so the CLI runs from source with no build step,
// then hands over to the real entry. Kept in plain JS because it runs before any loader exists.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));

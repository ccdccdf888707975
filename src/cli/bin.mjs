#!/usr/bin/env node
// Entry shim: registers the TypeScript loader (tsx) so the CLI runs from source with no build step,
// then hands over to the real entry. Kept in plain JS because it runs before any loader exists.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env -S node --max-old-space-size=512
// Development launcher: runs the CLI from the TypeScript sources through tsx (a devDependency), with
// no build step, e.g. `node src/cli/bin.mjs verify list.csv` while editing src/. What users run is the
// compiled build, dist/cli/bin.js (package.json "bin"; `npm run build`), from the same src/cli/bin.ts.
// The shebang keeps the heap cap of the real launcher (see src/cli/bin.ts).
import { register } from 'tsx/esm/api';
register();
await import('./bin.ts');

// `node --import ./record-module-loads.mjs …`: appends the URL of every module the process resolves
// through the ES module loader to the file named by $RECORD_MODULES_FILE (one per line). Used to
// prove which dependencies a CLI command loads (test/cli/cli-startup.test.ts). Plain JavaScript: it
// runs before any loader, in a child process started with plain `node`.
import { register } from 'node:module';

register('./record-module-loads-hooks.mjs', import.meta.url);

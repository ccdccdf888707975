/**
 * The CLI as users run it: the compiled build, dist/cli/bin.js (package.json "bin"). Tests that spawn
 * the CLI run this file, never the sources through a loader; test/global-setup.ts builds dist/ from
 * src/ before any test file runs (incremental tsc, about a second when nothing changed).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_BIN = path.join(REPO_ROOT, 'dist/cli/bin.js');

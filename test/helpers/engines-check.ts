/**
 * Which installed packages need a newer Node than ours: walks a node_modules tree (scoped and nested
 * folders too) and returns every package whose engines.node does not admit `minimum` (semver).
 * Used by test/package/engines.test.ts on this repository's tree and by .ci/run on the tree a user
 * gets from `npm install list-hygiene-*.tgz` (test/package/check-engines.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';

export interface EnginesOffender {
  name: string;
  version: string;
  wants: string;
  location: string;
}

export function enginesOffenders(projectDir: string, minimum: string): { checked: number; offenders: EnginesOffender[] } {
  const offenders: EnginesOffender[] = [];
  let checked = 0;
  const visit = (nodeModules: string): void => {
    if (!existsSync(nodeModules)) return;
    for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || !(entry.isDirectory() || entry.isSymbolicLink())) continue;
      const dirs = entry.name.startsWith('@') ? readdirSync(path.join(nodeModules, entry.name)).map((n) => path.join(nodeModules, entry.name, n)) : [path.join(nodeModules, entry.name)];
      for (const dir of dirs) {
        const file = path.join(dir, 'package.json');
        if (!existsSync(file)) continue;
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string; engines?: { node?: unknown } };
        const wants = pkg.engines?.node;
        if (typeof wants === 'string') {
          checked++;
          // A range semver cannot parse admits nothing we can vouch for: it is reported too.
          if (semver.validRange(wants) === null || !semver.satisfies(minimum, wants)) offenders.push({ name: pkg.name ?? path.basename(dir), version: pkg.version ?? '?', wants, location: path.relative(projectDir, dir) });
        }
        visit(path.join(dir, 'node_modules'));
      }
    }
  };
  visit(path.join(projectDir, 'node_modules'));
  return { checked, offenders };
}

/** The lowest Node version a package.json's engines.node admits. */
export function enginesMinimum(packageJsonFile: string): string {
  const range = (JSON.parse(readFileSync(packageJsonFile, 'utf8')) as { engines?: { node?: string } }).engines?.node;
  const min = range ? semver.minVersion(range) : null;
  if (!min) throw new Error(`${packageJsonFile}: no usable engines.node`);
  return min.version;
}

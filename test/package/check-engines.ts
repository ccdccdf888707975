/**
 * `tsx test/package/check-engines.ts DIR`: the engines check on an installed tree (.ci/run runs it on
 * the folder where it installed the packed tarball). Exits 1 listing every package under DIR whose
 * engines.node does not admit this package's minimum, except the ones package.json "overrides" pins
 * for the repository: npm applies overrides only to the project that declares them, never to a
 * package installed as a dependency, so an install of the tarball still gets their newer majors
 * (reported as a warning; see docs/development.md).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/cli-bin.ts';
import { enginesMinimum, enginesOffenders } from '../helpers/engines-check.ts';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: tsx test/package/check-engines.ts DIR\n');
  process.exit(2);
}
const ourPackage = path.join(REPO_ROOT, 'package.json');
const minimum = enginesMinimum(ourPackage);
const overridden = new Set(Object.keys((JSON.parse(readFileSync(ourPackage, 'utf8')) as { overrides?: Record<string, string> }).overrides ?? {}));
const { checked, offenders } = enginesOffenders(path.resolve(dir), minimum);
const known = offenders.filter((o) => overridden.has(o.name));
const unknown = offenders.filter((o) => !overridden.has(o.name));
for (const o of known) process.stdout.write(`engines: warning: ${o.location} ${o.version} wants Node ${o.wants} (pinned by "overrides" in this repository, which npm does not apply to installs of the package)\n`);
for (const o of unknown) process.stderr.write(`engines: ${o.location} ${o.version} wants Node ${o.wants}, but engines says ${minimum} is enough\n`);
process.stdout.write(`engines: ${checked} packages with engines.node checked against Node ${minimum}: ${unknown.length} need a newer Node${known.length ? `, ${known.length} known (overrides)` : ''}\n`);
process.exit(unknown.length === 0 ? 0 : 1);

/**
 * No installed dependency may require a newer Node than our package.json "engines" admits: every
 * package under node_modules whose package.json has engines.node must accept our minimum version
 * (today 20.19.0). content-disposition 3.x and cookie 2.x want Node 22; package.json "overrides" pins
 * the newest majors that support 20 (see docs/development.md, Node versions and dependencies). The lockfile must say the same.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli-bin.ts';
import { enginesOffenders } from '../helpers/engines-check.ts';

interface PackageJson {
  name?: string;
  version?: string;
  engines?: { node?: string };
  overrides?: Record<string, string>;
}

const ours = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, PackageJson & { dev?: boolean; optional?: boolean }> };

describe('engines', () => {
  const ourRange = ours.engines?.node;
  it('our engines.node is a valid range with a minimum', () => {
    expect(ourRange).toBeDefined();
    expect(semver.validRange(ourRange!)).not.toBeNull();
  });
  const minimum = semver.minVersion(ourRange!)!.version;

  it(`every installed package admits Node ${minimum} (our minimum)`, () => {
    const { checked, offenders } = enginesOffenders(REPO_ROOT, minimum);
    expect(checked).toBeGreaterThan(10);
    const listed = offenders.map((o) => `${o.location} ${o.version}: engines.node "${o.wants}"`);
    expect(listed, `these packages need a newer Node than ${minimum}: pin an older version in package.json "overrides"`).toEqual([]);
  });

  it('the check sees a package that wants a newer Node (it is not vacuous)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hygiene-engines-'));
    try {
      const pkg = path.join(dir, 'node_modules/@scope/needs-22/node_modules/nested-needs-24');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(path.join(dir, 'node_modules/@scope/needs-22/package.json'), JSON.stringify({ name: '@scope/needs-22', version: '1.0.0', engines: { node: '>=22' } }));
      writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'nested-needs-24', version: '2.0.0', engines: { node: '^24.0.0' } }));
      expect(enginesOffenders(dir, minimum).offenders.map((o) => `${o.name}@${o.version}`)).toEqual(['@scope/needs-22@1.0.0', 'nested-needs-24@2.0.0']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the lockfile records the same: no locked package wants a Node newer than our minimum', () => {
    const offenders = Object.entries(lock.packages)
      .filter(([location, entry]) => location !== '' && entry.engines?.node !== undefined && !semver.satisfies(minimum, entry.engines.node))
      .map(([location, entry]) => `${location} ${entry.version}: ${entry.engines!.node}`);
    expect(offenders).toEqual([]);
  });

  it('the overrides are in force in the installed tree', () => {
    for (const [name, version] of Object.entries(ours.overrides ?? {})) {
      const installed = Object.keys(lock.packages).filter((location) => location.endsWith(`node_modules/${name}`));
      expect(installed.length, `${name} is not installed any more: drop its override`).toBeGreaterThan(0);
      for (const location of installed) expect(lock.packages[location]!.version, location).toBe(version);
    }
  });
});

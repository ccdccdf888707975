/**
 * What `npm pack` ships: the compiled CLI with its declarations and the demo's samples, and nothing
 * of the repository's development side (tests, fixtures with the TLS private key, .ci, sources,
 * tsconfig, the incremental build info). The build runs with no TypeScript loader: no import in
 * dist/ names a .ts file or tsx, and nothing the package needs at run time is a devDependency.
 * The CI step in .ci/run then installs the real tarball into an empty folder and runs it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli-bin.ts';

interface PackageJson {
  bin: Record<string, string>;
  private?: boolean;
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;

function packedFiles(): string[] {
  // --ignore-scripts: list what is there (vitest's global setup has just built dist/) without rebuilding.
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const [result] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return result!.files.map((f) => f.path);
}

describe('npm pack', () => {
  const files = packedFiles();

  it('ships the compiled CLI (bin), its declarations and the demo samples', () => {
    expect(pkg.bin.hygiene).toBe('dist/cli/bin.js');
    for (const f of ['package.json', 'README.md', 'dist/cli/bin.js', 'dist/cli/main.js', 'dist/cli/commands.js', 'dist/cli/demo-command.js', 'samples/world.json', 'samples/contacts.csv']) expect(files).toContain(f);
    const js = files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(50);
    for (const f of js) expect(files, `declaration of ${f}`).toContain(f.replace(/\.js$/, '.d.ts'));
  });

  it('ships the files of src/ that tsc does not emit (providers.json...) beside the JavaScript', () => {
    const src = path.join(REPO_ROOT, 'src');
    const assets = (readdirSync(src, { recursive: true }) as string[]).filter((f) => /\.\w+$/.test(f) && !/\.(ts|mjs)$/.test(f));
    expect(assets).toContain(path.join('providers', 'providers.json'));
    for (const f of assets) expect(files, f).toContain(`dist/${f.split(path.sep).join('/')}`);
  });

  it('ships the docs pages the README links to, so its links work in an installed package', () => {
    const pages = (readdirSync(path.join(REPO_ROOT, 'docs'), { recursive: true }) as string[]).filter((f) => f.endsWith('.md'));
    expect(pages.length).toBeGreaterThan(0);
    for (const page of pages) expect(files, page).toContain(`docs/${page.split(path.sep).join('/')}`);
  });

  it('keeps tests, fixtures (the TLS private key), .ci, sources and build leftovers out', () => {
    const unwanted = files.filter((f) => /^(test|\.ci|src|node_modules|results)\//.test(f) || /^tsconfig.*\.json$/.test(f) || f === 'dist/.tsbuildinfo' || f === 'docker-compose.yml' || /\.(key|pem)$/.test(f) || /\.test\./.test(f));
    expect(unwanted).toEqual([]);
  });

  it('the launcher keeps the heap cap in its shebang', () => {
    const firstLine = readFileSync(path.join(REPO_ROOT, 'dist/cli/bin.js'), 'utf8').split('\n')[0];
    expect(firstLine).toBe('#!/usr/bin/env -S node --max-old-space-size=512');
  });

  it('packing a private package still works, and npm ci builds it (prepare)', () => {
    expect(pkg.private).toBe(true);
    expect(pkg.scripts.prepare).toBe('npm run build');
    expect(pkg.scripts.build).toContain('tsc -p tsconfig.build.json');
  });
});

describe('the build runs without a TypeScript loader', () => {
  const dist = path.join(REPO_ROOT, 'dist');
  const jsFiles = (readdirSync(dist, { recursive: true }) as string[]).filter((f) => f.endsWith('.js'));

  it('no import in dist/ names a .ts file or tsx', () => {
    const offenders: string[] = [];
    for (const f of jsFiles) {
      const text = readFileSync(path.join(dist, f), 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        if (/\.[cm]?ts$/.test(spec) || spec === 'tsx' || spec.startsWith('tsx/')) offenders.push(`${f}: ${spec}`);
      }
    }
    expect(jsFiles.length).toBeGreaterThan(50);
    expect(offenders).toEqual([]);
  });

  it('tsx and typescript are devDependencies only', () => {
    for (const name of ['tsx', 'typescript', 'vitest']) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.devDependencies[name], name).toBeDefined();
    }
  });
});

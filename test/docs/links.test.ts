/**
 * The user's documentation holds together: README.md is the guide and docs/ the reference, and they
 * point at each other by relative links and #anchors. Every relative link in README.md and
 * docs/**\/*.md must lead to a file of the repository and, with an anchor, to a heading of that file
 * (GitHub's anchor rules); every repository path quoted in backticks (`src/probe/limit-key.ts`) must
 * exist; every docs page opens with its title and a link back to the README; and the README opens
 * with the two set-up commands and the offline walk-through on its first screen. Pure: reads files,
 * no network.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, codePathsOf, githubSlug, isExternal, linksOf, proseLines } from './markdown-links.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

function markdownFiles(): string[] {
  const docs = (readdirSync(path.join(REPO_ROOT, 'docs'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f));
  return ['README.md', ...docs.sort()];
}

const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');

describe('GitHub heading anchors', () => {
  it.each([
    ['Quick start', 'quick-start'],
    ['Whose fault is it? (ours, theirs, retry)', 'whose-fault-is-it-ours-theirs-retry'],
    ['`hygiene verify FILE.csv [--out DIR]`', 'hygiene-verify-filecsv---out-dir'],
    ['Watched folder — `hygiene watch DIR`', 'watched-folder--hygiene-watch-dir'],
    ['`hygiene cache stats|clear`', 'hygiene-cache-statsclear'],
    ['Your own file: `HYGIENE_PROVIDERS_FILE`', 'your-own-file-hygiene_providers_file'],
    ['Early stops (the fault guard)', 'early-stops-the-fault-guard'],
    ['Node.js (18+)', 'nodejs-18'],
    ['`report.json`', 'reportjson'],
    ['A [linked](x.md) **bold** heading', 'a-linked-bold-heading'],
  ])('%s → #%s', (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });

  it('repeated headings get -1, -2; headings inside code blocks are not headings', () => {
    const anchors = anchorsOf('# Setup\n\n```sh\n# not a heading\n```\n\n## Setup\n### Setup\n');
    expect([...anchors]).toEqual(['setup', 'setup-1', 'setup-2']);
  });

  it('links inside code spans and code blocks are not links', () => {
    const links = linksOf('see [a](a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d]: d.md\n');
    expect(links.map((l) => l.target)).toEqual(['a.md', 'd.md']);
  });
});

describe('README.md and docs/ links', () => {
  const files = markdownFiles();

  it('finds the README and the docs pages', () => {
    expect(files).toContain('README.md');
    expect(files.length).toBeGreaterThan(5);
  });

  it.each(files)('%s: every relative link and #anchor resolves', (file) => {
    const broken: string[] = [];
    for (const { line, target } of linksOf(read(file))) {
      if (isExternal(target)) continue;
      const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
      const linkedPath = decodeURIComponent(rawPath);
      const resolved = linkedPath === '' ? path.join(REPO_ROOT, file) : path.resolve(REPO_ROOT, path.dirname(file), linkedPath);
      const relative = path.relative(REPO_ROOT, resolved);
      if (relative.startsWith('..') || path.isAbsolute(relative)) {
        broken.push(`${file}:${line}: ${target} leaves the repository`);
        continue;
      }
      if (!existsSync(resolved)) {
        broken.push(`${file}:${line}: ${target}: no such file ${relative}`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
        broken.push(`${file}:${line}: ${target}: an anchor into ${relative}, which is not a Markdown file`);
        continue;
      }
      if (!anchorsOf(readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor))) {
        broken.push(`${file}:${line}: ${target}: ${relative} has no heading with anchor #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(files)('%s: every repository path in backticks exists', (file) => {
    const missing = codePathsOf(read(file))
      .filter(({ target }) => !existsSync(path.join(REPO_ROOT, target)))
      .map(({ line, target }) => `${file}:${line}: \`${target}\` does not exist`);
    expect(missing).toEqual([]);
  });

  it.each(files.filter((f) => f !== 'README.md'))('%s opens with its title and links back to the README', (file) => {
    const lines = read(file).split('\n');
    expect(lines[0]).toMatch(/^# \S/);
    const opening = lines.slice(1, 12).join('\n');
    const backToReadme = linksOf(opening).some(({ target }) => /^(\.\.\/)+README\.md(#.*)?$/.test(target));
    expect(backToReadme, `${file}: no link to the README in its opening lines`).toBe(true);
  });
});

describe('the README starts where a new user starts', () => {
  const readme = read('README.md');
  const lines = readme.split('\n');

  it('its first lines are the two set-up commands: the demo, then the test command CI runs', () => {
    expect(lines[0]).toBe('# list-hygiene');
    expect(lines.slice(1, 3)).toEqual(['', '```sh']);
    const commands = lines.slice(3, 5).map((l) => l.replace(/\s+#.*$/, ''));
    expect(commands).toEqual(['npm ci && npm run demo', 'npm test']);
    expect(lines[5]).toBe('```');
    // .ci/run runs "the test command written in the README".
    expect(read('.ci/run')).toMatch(/^npm test$/m);
  });

  it('its first screen shows the offline walk-through', () => {
    const firstScreen = proseLines(lines.slice(0, 45).join('\n')).map((l) => l.text);
    expect(firstScreen).toContain('## Try every command offline');
    expect(lines.slice(0, 45).join('\n')).toContain('npx hygiene world');
  });

  it('its Documentation section links every docs page', () => {
    const index = readme.slice(readme.indexOf('\n## Documentation'));
    const linked = new Set(linksOf(index).map(({ target }) => target.split('#')[0]));
    const pages = markdownFiles().filter((f) => f !== 'README.md');
    expect(pages.filter((f) => !linked.has(f))).toEqual([]);
  });

  it('stays a guide a user reads in ten minutes: the reference lives in docs/', () => {
    expect(lines.length).toBeLessThan(400);
  });
});

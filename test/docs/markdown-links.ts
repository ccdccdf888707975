/**
 * Reads the project's Markdown the way GitHub renders it, for the documentation link checks
 * (test/docs/links.test.ts): the anchors each heading gets, the relative links and the repository
 * paths quoted in backticks. Pure functions over text; nothing here reads files.
 */

/** A Markdown line outside fenced code blocks, with its 1-based line number. */
export interface ProseLine {
  line: number;
  text: string;
}

/** The lines outside ``` and ~~~ fences (a fence closes on the same marker, at least as long). */
export function proseLines(markdown: string): ProseLine[] {
  const out: ProseLine[] = [];
  let fence: string | null = null;
  markdown.split('\n').forEach((text, i) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(text)?.[1];
    if (fence !== null) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length && text.trim() === marker) fence = null;
      return;
    }
    if (marker !== undefined) {
      fence = marker;
      return;
    }
    out.push({ line: i + 1, text });
  });
  return out;
}

/** A line without its inline code spans (links inside code are not links). */
function withoutCodeSpans(text: string): string {
  return text.replace(/(`+)[\s\S]*?\1/g, '');
}

/**
 * GitHub's heading anchor (github-slugger): the heading's text as rendered (code spans keep their
 * content, links their text, emphasis markers go), lower-cased, every character that is not a letter,
 * mark, digit, `_`, `-` or space dropped, spaces turned into `-`.
 */
export function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '');
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a document offers: its headings' slugs (repeats get -1, -2 …) and explicit ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text)?.[1];
    if (heading !== undefined) {
      const slug = githubSlug(heading);
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

/** A link found in a document: where it is and its target as written. */
export interface MarkdownLink {
  line: number;
  target: string;
}

/** Inline links and images `[text](target "title")` and reference definitions `[x]: target`. */
export function linksOf(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  for (const { line, text } of proseLines(markdown)) {
    const prose = withoutCodeSpans(text);
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line, target: m[1]! });
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(prose);
    if (definition) links.push({ line, target: definition[1]! });
  }
  return links;
}

/** True for a link that leaves the repository (a URL scheme such as https: or mailto:). */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

/** Top-level folders whose paths, quoted in backticks, must exist (dist/ is built, so not checked). */
const CHECKED_ROOTS = ['src', 'test', 'docs', 'samples', '.ci'];

/**
 * Repository paths quoted whole in backticks (`src/probe/limit-key.ts`, `test/faults/`): a code
 * span that is exactly a path under one of CHECKED_ROOTS, with no placeholder in it.
 */
export function codePathsOf(markdown: string): MarkdownLink[] {
  const paths: MarkdownLink[] = [];
  const rooted = new RegExp(`^(?:\\./)?((?:${CHECKED_ROOTS.map((r) => r.replace('.', '\\.')).join('|')})/[A-Za-z0-9_.\\-/]*)$`);
  for (const { line, text } of proseLines(markdown)) {
    for (const m of text.matchAll(/(`+)([\s\S]*?)\1/g)) {
      const p = rooted.exec(m[2]!.trim())?.[1];
      if (p !== undefined) paths.push({ line, target: p });
    }
  }
  return paths;
}

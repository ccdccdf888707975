/**
 * Text shown to API clients and webhook receivers carries list ids and file names, never where the
 * server keeps its files: engine errors name absolute paths ("The input file /srv/hygiene/uploads/
 * 3f2a….csv is empty", "ENOENT: … open '/srv/…'"), which tell a stranger the server's layout and
 * user names. Pure string work, no imports.
 */

const POSIX_PATH = /(?<![\w.~:/\\-])\/(?:[^\s'"`<>|/\\]+\/)*[^\s'"`<>|/\\]+\/?/g;
const WINDOWS_PATH = /(?<![\w])[A-Za-z]:\\(?:[^\s'"`<>|\\]+\\)*[^\s'"`<>|\\]+\\?/g;

function lastSegment(found: string): string {
  const parts = found.split(/[\\/]/).filter((p) => p !== '');
  return parts[parts.length - 1] ?? '';
}

/**
 * `text` with each known path replaced by its public name (longest first, so a file inside a
 * known folder is named before the folder is), then any other absolute path by its last segment.
 * URLs are left alone (their slashes follow "scheme:" or a host name).
 */
export function withoutServerPaths(text: string, known: ReadonlyArray<readonly [path: string, publicName: string]> = []): string {
  let out = text;
  for (const [serverPath, publicName] of [...known].filter(([p]) => p !== '').sort((a, b) => b[0].length - a[0].length)) {
    out = out.split(serverPath).join(publicName);
  }
  return out.replace(POSIX_PATH, lastSegment).replace(WINDOWS_PATH, lastSegment);
}

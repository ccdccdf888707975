/**
 * The watched folder's layout and the small file-system steps on it. No list logic here.
 *
 *   DIR/inbox/        drop CSV files here (.csv, .tsv or .txt). Write big files as NAME.part and
 *                     rename when complete, or just write them: a file is taken once its size and
 *                     mtime have not changed for the stability interval. Names starting with "."
 *                     and names ending in ".part" are never taken.
 *   DIR/processing/JOB/   a taken file (JOB = <UTC time>-<random>-<name>) with .watch.json (what it
 *                     was called) and, while it runs, the outputs being written
 *   DIR/done/JOB/     the input, NAME.cleaned.csv, NAME.rejected.csv, NAME.report.json
 *   DIR/failed/JOB/   the input (or the symlink/directory as it was, never followed) and error.txt
 *                     saying why
 * Moves are renames inside DIR (one file system), so a job folder appears in done/ or failed/
 * complete, at once.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface WatchLayout {
  root: string;
  inbox: string;
  processing: string;
  done: string;
  failed: string;
}

export const JOB_META_FILE = '.watch.json';
export const ERROR_FILE = 'error.txt';
export const ACCEPTED_EXTENSIONS = ['.csv', '.tsv', '.txt'] as const;

export interface JobMeta {
  /** The name the file had in inbox/ (may contain anything the file system allows). */
  originalName: string;
  /** The name it has in the job folder: safe characters only. */
  input: string;
  takenAt: string;
}

export function watchLayout(root: string): WatchLayout {
  return { root, inbox: path.join(root, 'inbox'), processing: path.join(root, 'processing'), done: path.join(root, 'done'), failed: path.join(root, 'failed') };
}

export async function ensureLayout(layout: WatchLayout): Promise<void> {
  for (const dir of [layout.inbox, layout.processing, layout.done, layout.failed]) await mkdir(dir, { recursive: true });
}

/** Names are input: keep letters, digits, . _ - (others become _), at most 120 characters, no leading dot. */
export function safeFileName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  if (cleaned.length <= 120) return cleaned || 'file';
  const ext = path.extname(cleaned).slice(0, 10);
  return `${cleaned.slice(0, 120 - ext.length)}${ext}`;
}

export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.toLowerCase().endsWith('.part');
}

export function hasAcceptedExtension(name: string): boolean {
  const ext = path.extname(name).toLowerCase();
  return (ACCEPTED_EXTENSIONS as readonly string[]).includes(ext);
}

export function newJobId(name: string, now: Date = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '');
  const base = safeFileName(name).replace(/\.[^.]*$/, '').slice(0, 60) || 'file';
  return `${stamp}Z-${randomBytes(3).toString('hex')}-${base}`;
}

export async function readJobMeta(jobDir: string): Promise<JobMeta | null> {
  try {
    const meta = JSON.parse(await readFile(path.join(jobDir, JOB_META_FILE), 'utf8')) as Partial<JobMeta>;
    if (typeof meta.input !== 'string' || meta.input !== safeFileName(meta.input) || typeof meta.originalName !== 'string') return null;
    return { originalName: meta.originalName, input: meta.input, takenAt: String(meta.takenAt ?? '') };
  } catch {
    return null;
  }
}

export async function writeJobMeta(jobDir: string, meta: JobMeta): Promise<void> {
  await writeFile(path.join(jobDir, JOB_META_FILE), `${JSON.stringify(meta, null, 2)}\n`, { flag: 'w', mode: 0o644 });
}

export function errorText(originalName: string, code: string, reason: string, at: Date = new Date()): string {
  // The reason may quote file content or names: one line each, no control characters.
  // eslint-disable-next-line no-control-regex
  const line = (s: string) => s.replace(/[\x00-\x1f\x7f]+/g, ' ');
  return `file: ${line(originalName)}\nfailed at: ${at.toISOString()}\ncode: ${line(code)}\nreason: ${line(reason)}\n`;
}

/** Moves a job folder (processing/JOB) to done/ or failed/. */
export async function moveJob(from: string, toParent: string): Promise<string> {
  const target = path.join(toParent, path.basename(from));
  await rename(from, target);
  return target;
}

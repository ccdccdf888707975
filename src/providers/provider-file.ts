/**
 * Reads the provider table: the built-in src/providers/providers.json (shipped with the package,
 * found next to this module), and the user's override file named in HYGIENE_PROVIDERS_FILE, laid
 * over it by slug. The one setting reader is `providersSetting`, called by config; it adds every
 * problem of a bad file to the configuration problems (so the command stops with exit 2) and
 * returns the built-in table meanwhile.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseProviderTable, type ProviderTable } from './provider-table.ts';

const BUILT_IN = new URL('./providers.json', import.meta.url);
/** A provider file larger than this is refused unread: the built-in one is about 40 KB. */
const MAX_FILE_BYTES = 1024 * 1024;

let builtIn: { raw: unknown; table: ProviderTable } | undefined;

/** The built-in table, read and validated once per process (it is frozen). A problem here is a packaging bug. */
export function builtInProviders(): { raw: unknown; table: ProviderTable } {
  if (builtIn === undefined) {
    const raw: unknown = JSON.parse(readFileSync(BUILT_IN, 'utf8'));
    const result = parseProviderTable(raw, 'built-in providers.json');
    if (!result.ok) throw new Error(`The built-in provider table is invalid:\n- ${result.problems.join('\n- ')}`);
    builtIn = { raw, table: result.table };
  }
  return builtIn;
}

/**
 * The provider table for a run: the built-in one, or the user's file (`file`, from `variable`) laid
 * over it. Problems with the user's file are pushed onto `problems`, each naming the variable.
 */
export function providersSetting(variable: string, file: string | undefined, problems: string[]): ProviderTable {
  const base = builtInProviders();
  if (file === undefined || file.trim() === '') return base.table;
  let raw: unknown;
  try {
    const size = statSync(file).size;
    if (size > MAX_FILE_BYTES) throw new Error(`it is ${size} bytes, more than the ${MAX_FILE_BYTES} a provider file may have`);
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`${variable}: cannot use ${file}: ${(err as Error).message}`);
    return base.table;
  }
  const result = parseProviderTable(raw, file, base.raw);
  if (result.ok) return result.table;
  problems.push(`${variable}: ${file} has ${result.problems.length} problem(s):`, ...result.problems.map((p) => `  ${p}`));
  return base.table;
}

// Loader hooks for record-module-loads.mjs (they run on the loader's own thread).
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (process.env.RECORD_MODULES_FILE) appendFileSync(process.env.RECORD_MODULES_FILE, `${result.url}\n`);
  return result;
}

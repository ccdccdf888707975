/**
 * Runs a CLI entry point in process with its stdout/stderr muted (the command prints its summary
 * and errors; the test asserts on the returned value or error instead).
 */
import { vi } from 'vitest';

export async function quietly<T>(run: () => Promise<T>): Promise<{ value?: T; error?: unknown }> {
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { value: await run() };
  } catch (error) {
    return { error };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

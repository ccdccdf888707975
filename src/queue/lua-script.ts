/**
 * Lua scripts run by SHA1, and the separator of arguments packed for them. Every script lives in a
 * .lua file next to the module that runs it, with a header naming its KEYS and ARGV (like BullMQ's
 * src/commands/*.lua), loaded once when that module is loaded: `loadLuaScript(new URL('./x.lua',
 * import.meta.url))` finds it next to the module whether it runs from src/ or from a build (the
 * build must copy the .lua files beside the .js files it emits).
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

/** A Lua script with its SHA1, run by EVALSHA (see runScript). */
export interface LuaScript {
  lua: string;
  sha: string;
}

export function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** Every .lua file loaded so far (absolute paths): test/store checks each file on disk is one of them. */
export const loadedLuaFiles = new Set<string>();

/** Reads a script file (at module load: a missing file fails at start-up, not at the first call). */
export function loadLuaScript(file: URL): LuaScript {
  const path = fileURLToPath(file);
  const script = luaScript(readFileSync(path, 'utf8'));
  loadedLuaFiles.add(path);
  return script;
}

/**
 * Runs a script by its SHA1 (EVALSHA) and falls back to EVAL once when Redis does not know it yet
 * (first call, or after a Redis restart / SCRIPT FLUSH). Why not EVAL every time: the producer calls
 * its script once per batch, and shipping the script text with every call costs bandwidth and a
 * server-side SHA1 each time. Why not ioredis defineCommand: it would add a method to a client we
 * are only lent (the runtime's shared connection).
 */
export async function runScript(redis: Redis, script: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/**
 * Separates packed fields in one script argument. Unit Separator: it cannot occur in an address key
 * (parseEmailAddress refuses control characters) nor in JSON text (JSON.stringify escapes it).
 */
export const PACK_SEPARATOR = '\x1f';

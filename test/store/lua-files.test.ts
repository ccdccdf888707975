/**
 * Every Lua script ships as a .lua file next to the module that loads it (queue/lua-script.ts
 * loadLuaScript, through import.meta.url): each file on disk is found by the module that loads it,
 * each has a header naming its KEYS or ARGV, and no module builds a script from an inline string.
 * A build that compiles src/ to another folder must copy the .lua files beside the modules (the
 * same check then fails there if it does not).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadedLuaFiles } from '../../src/queue/lua-script.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

async function filesUnder(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full, suffix)));
    else if (entry.name.endsWith(suffix)) out.push(full);
  }
  return out;
}

describe('Lua scripts', () => {
  it('every .lua file under src/ is loaded by its module, and every loaded one exists', async () => {
    const modules = [];
    for (const file of await filesUnder(SRC, '.ts')) {
      if ((await readFile(file, 'utf8')).includes('loadLuaScript(new URL(')) modules.push(file);
    }
    expect(modules.length).toBeGreaterThanOrEqual(8);
    for (const module of modules) await import(pathToFileURL(module).href);
    const onDisk = (await filesUnder(SRC, '.lua')).sort();
    expect(onDisk.length).toBeGreaterThanOrEqual(12);
    expect([...loadedLuaFiles].sort()).toEqual(onDisk);
  });

  it('every script has a header naming its KEYS or ARGV', async () => {
    for (const file of await filesUnder(SRC, '.lua')) {
      const text = await readFile(file, 'utf8');
      const header = text.split('\n').filter((line) => line.startsWith('--')).join('\n');
      expect(header, file).toMatch(/KEYS\[1\]|ARGV\[1\]/);
    }
  });

  it('no module builds a Lua script from an inline string or EVALs one directly', async () => {
    for (const file of await filesUnder(SRC, '.ts')) {
      const text = await readFile(file, 'utf8');
      if (file.endsWith(`${path.sep}lua-script.ts`)) continue; // runScript's EVAL fallback (NOSCRIPT)
      expect(text, file).not.toMatch(/luaScript\(`|redis\.eval\(/);
    }
  });
});

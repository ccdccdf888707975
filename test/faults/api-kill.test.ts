/**
 * Fault: the API process is killed (SIGKILL) while an uploaded list is in its parse pass. The list
 * must not stay in `parsing` for ever: another API process sees that the list's parse lease has
 * lapsed, takes the list over from the upload still on disk, and the list completes with every row
 * exactly once.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { readReport } from '../../src/app/list-runner.ts';
import { freePort } from '../../src/app/redis-connection.ts';
import { ListStore } from '../../src/queue/list-store.ts';
import { REDIS_URL, clearPrefix, expectEveryRowOnce, killChild, removeDir, runCli, tempDir, uniquePrefix, waitFor, type CliRun } from './fault-helpers.ts';

const API_KEY = 'fault-test-key-0123456789';

describe('API killed during a parse pass', () => {
  let prefix = '';
  let dir = '';
  let redis: Redis | undefined;
  const children: CliRun[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) await killChild(c);
    redis?.disconnect();
    await clearPrefix(prefix);
    await removeDir(dir);
  });

  async function startApi(env: Record<string, string>): Promise<{ run: CliRun; url: string }> {
    const port = await freePort();
    const run = runCli(['api', '--syntax-only', '--port', String(port)], { ...env, HYGIENE_API_PORT: String(port) });
    children.push(run);
    const url = `http://127.0.0.1:${port}`;
    await waitFor('the API to answer', async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok, 20_000, 100);
    return { run, url };
  }

  it('another API process takes the list over and it completes, every row once', async () => {
    prefix = uniquePrefix('apikill');
    dir = await tempDir('apikill');
    // Big enough that the parse pass is still running when the first process is killed.
    const rows = 400_000;
    const ids: string[] = [];
    let csv = 'id,email,name\n';
    for (let i = 0; i < rows; i++) {
      ids.push(String(i));
      // Every 40th row repeats an earlier address: duplicates must survive the take-over too.
      const n = i % 40 === 39 ? i - 20 : i;
      csv += `${i},user${n}@d${n % 97}.test,Person ${i}\n`;
    }
    const input = path.join(dir, 'big.csv');
    await writeFile(input, csv);
    const env = {
      REDIS_URL,
      HYGIENE_PREFIX: prefix,
      HYGIENE_API_KEYS: API_KEY,
      HYGIENE_DATA_DIR: path.join(dir, 'data'),
      HYGIENE_PARSE_LEASE_MS: '1000',
      HYGIENE_HELO_NAME: 'verify.example.test',
      HYGIENE_MAIL_FROM: 'verify@example.test',
    };
    redis = new Redis(REDIS_URL);
    const store = new ListStore(redis, prefix);

    const first = await startApi(env);
    const created = await fetch(`${first.url}/v1/lists`, { method: 'POST', headers: { 'content-type': 'text/csv', 'x-api-key': API_KEY }, body: await readFile(input) });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    await waitFor('the parse pass to be under way', async () => {
      const list = await store.get(id);
      return list && list.state === 'parsing' && list.rows > 0;
    }, 20_000, 10);
    first.run.child.kill('SIGKILL');
    await first.run.exit;
    // The point of the test: the list was left in its parse pass.
    expect((await store.get(id))?.state).toBe('parsing');

    await startApi(env);
    const done = await waitFor('the list to be finished by the second API process', async () => {
      const list = await store.get(id);
      if (list?.state === 'failed') throw new Error(`list failed: ${list.error}`);
      return list?.state === 'done' ? list : null;
    }, 60_000, 100);
    const report = await readReport(done);
    const outputs = await expectEveryRowOnce(report, ids);
    expect(outputs.rejected.filter((row) => row.hygiene_reason === 'duplicate')).toHaveLength(rows / 40);
  });
});

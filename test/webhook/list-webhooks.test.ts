/**
 * The list.completed event is queued by whichever process finishes the list. In a fleet the API
 * runs with --no-workers and a `hygiene worker` process runs the finalize step: that process (a
 * bare runtime here, no API, no dispatcher) must queue the event for the API's dispatcher to send.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startList, waitForList } from '../../src/app/list-runner.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { deletePrefix, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

let runtime: HygieneRuntime | undefined;
let prefix = '';
afterAll(async () => {
  await runtime?.close();
  await deletePrefix(prefix);
});

describe('list webhooks from a worker process', () => {
  it('queues list.completed (once, with counts and links) when the list asked for a webhook, and nothing when it did not', async () => {
    prefix = uniquePrefix('lwh');
    const dir = await tempDir('lwh');
    runtime = await startRuntime(worldConfig(null, prefix), { verifier: 'syntax' });
    const input = path.join(dir, 'leads.csv');
    await writeFile(input, 'email\nann@a.test\nnot-an-address\nann@a.test\n');
    const options = { reject: 'undeliverable,duplicate', neutraliseFormulas: true };
    const withHook = await startList(runtime, { input, outDir: dir, name: 'with', options: { ...options, webhookUrl: 'https://hooks.example.test/lists' } });
    const without = await startList(runtime, { input, outDir: dir, name: 'without', options });
    await waitForList(runtime, withHook.listId, { pollMs: 50 });
    await waitForList(runtime, without.listId, { pollMs: 50 });

    const job = await runtime.webhookQueue.getJob(`${withHook.listId}-list-completed`);
    expect(job?.data).toMatchObject({ listId: withHook.listId, url: 'https://hooks.example.test/lists', event: 'list.completed' });
    const body = JSON.parse(job!.data.body) as Record<string, unknown>;
    expect(body).toMatchObject({ event: 'list.completed', state: 'done', rows: 3, cleanedRows: 1, rejectedRows: 2, links: { self: `/v1/lists/${withHook.listId}` } });
    expect(JSON.stringify(body)).not.toContain(dir); // no server paths
    expect(await runtime.webhookQueue.getJob(`${without.listId}-list-completed`)).toBeUndefined();
    expect(await runtime.webhookQueue.count()).toBe(1);
  });
});

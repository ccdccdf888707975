/**
 * What the API reveals (issue 12 item 6): API-visible text carries list ids and file names, never a
 * server path (422 messages, report.json as served, a failed list's error, the list.failed
 * webhook); and a key (or any secret) in a query string never reaches the log.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedPayload, notifyListWebhook } from '../../src/webhook/list-webhooks.ts';
import { API_KEY, OTHER_KEY, pollUntilFinished, startApiHarness, type ApiHarness } from './api-harness.ts';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.stop();
});

/** Any absolute POSIX path, or the data directory in any form. */
function expectNoServerPath(text: string): void {
  expect(text).not.toContain(h.dataDir);
  expect(text).not.toMatch(/(^|[\s'"(=])\/(tmp|home|var|srv|data|root|usr)\//);
  // (API links such as /v1/lists/{id} are not server paths.)
  expect(text).not.toMatch(/uploads\/|(?<!\/v1\/)lists\//);
}

describe('hygiene api: no server paths in what clients see', () => {
  it('422 messages name the uploaded file, not where the server keeps it', async () => {
    const gzip = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8]);
    const form = new FormData();
    form.append('file', new Blob([gzip], { type: 'text/csv' }), 'contacts.csv');
    const multipart = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: h.auth, body: form });
    expect(multipart.status).toBe(422);
    const body = (await multipart.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INPUT_BINARY');
    expect(body.error.message).toMatch(/gzip/);
    expect(body.error.message).toContain('contacts');
    expectNoServerPath(body.error.message);

    const plain = await fetch(`${h.url}/v1/lists?name=leads`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv' }, body: 'name,city\nJohn,Paris\n' });
    expect(plain.status).toBe(422);
    const noColumn = (await plain.json()) as { error: { code: string; message: string } };
    expect(noColumn.error.code).toBe('NO_EMAIL_COLUMN');
    expectNoServerPath(noColumn.error.message);

    const empty = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv' }, body: '   \n' });
    expect(empty.status).toBe(422);
    expectNoServerPath(((await empty.json()) as { error: { message: string } }).error.message);
  });

  it('report.json as served: input and outputs are file names', async () => {
    const res = await fetch(`${h.url}/v1/lists?name=leads`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv' }, body: 'email\njane@acme.test\nghost@globex.test\n' });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await pollUntilFinished(h, id)).state).toBe('done');
    const served = await fetch(`${h.url}/v1/lists/${id}/report.json`, { headers: h.auth });
    expect(served.status).toBe(200);
    const text = await served.text();
    expect(Number(served.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expectNoServerPath(text);
    const report = JSON.parse(text) as { listId: string; input: string; outputs: Record<string, string>; rows: number };
    expect(report.listId).toBe(id);
    expect(report.rows).toBe(2);
    expect(report.input).toBe('leads.csv');
    expect(report.outputs).toEqual({ cleaned: 'leads.cleaned.csv', rejected: 'leads.rejected.csv', report: 'leads.report.json' });
  });

  it("a failed list's error and its list.failed webhook carry no path", async () => {
    const received: string[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString());
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      // An upload whose finalize step failed: the worker stores the error as Node gave it.
      const res = await fetch(`${h.url}/v1/lists?name=leads&webhookUrl=${encodeURIComponent(url)}`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv' }, body: 'email\njane@acme.test\n' });
      const { id } = (await res.json()) as { id: string };
      await pollUntilFinished(h, id);
      const { store, webhookQueue } = h.service.runtime;
      const list = (await store.get(id))!;
      const error = `ENOENT: no such file or directory, open '${list.input}' (while writing ${list.outDir}/leads.cleaned.csv)`;
      await store.setState(id, 'failed', { error });
      await notifyListWebhook(webhookQueue, store, id, 'list.failed', failedPayload(id, error));

      const status = (await (await fetch(`${h.url}/v1/lists/${id}`, { headers: h.auth })).json()) as { state: string; error: string };
      expect(status.state).toBe('failed');
      expect(status.error).toMatch(/^ENOENT: no such file or directory/);
      expectNoServerPath(status.error);

      const deadline = Date.now() + 15_000;
      while (!received.some((b) => b.includes('list.failed')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const hook = received.find((b) => b.includes('list.failed'));
      expect(hook).toBeDefined();
      expect(JSON.parse(hook!)).toMatchObject({ event: 'list.failed', listId: id, state: 'failed' });
      expectNoServerPath(hook!);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});

describe('hygiene api: secrets in query strings are not logged', () => {
  it('a key (or a webhook token) in the URL is redacted from the request log', async () => {
    const before = h.logs.length;
    const id = 'c'.repeat(32);
    const keyInQuery = await fetch(`${h.url}/v1/lists/${id}?api_key=${API_KEY}&key=${OTHER_KEY}`, { headers: h.auth });
    expect(keyInQuery.status).toBe(404);
    const hook = 'http://127.0.0.1:9/hook?token=s3cret-hook-token-42';
    await fetch(`${h.url}/v1/lists?webhookUrl=${encodeURIComponent(hook)}&name=x`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv' }, body: 'name\nx\n' });
    const logged = h.logs.slice(before).join('');
    // The requests were logged, with their paths...
    expect(logged).toContain(`/v1/lists/${id}`);
    // ...but no secret, in any encoding.
    for (const secret of [API_KEY, OTHER_KEY, 's3cret-hook-token-42']) expect(logged).not.toContain(secret);
    expect(logged).not.toContain(encodeURIComponent(hook));
    expect(logged).toContain('[redacted]');
  });
});

import http from 'node:http';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, OTHER_KEY, startApiHarness, type ApiHarness } from './api-harness.ts';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness({ HYGIENE_UPLOAD_MAX_BYTES: '2000', HYGIENE_API_RATE_LIMIT: '8' });
});
afterAll(async () => {
  await h?.stop();
});

const big = `email\n${Array.from({ length: 200 }, (_, i) => `user${i}@acme.test`).join('\n')}\n`;

/** A chunked upload (no content-length), so the limit is found while streaming. */
function chunkedUpload(url: string, body: string, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/lists`, { method: 'POST', headers: { 'content-type': 'text/csv', 'x-api-key': key, 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 100) req.write(body.slice(i, i + 100));
    req.end();
  });
}

describe('hygiene api: limits', () => {
  it('oversized uploads → 413 PAYLOAD_TOO_LARGE (declared length, chunked, multipart); nothing kept', async () => {
    expect(big.length).toBeGreaterThan(2000);
    const declared = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'text/csv' }, body: big });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');

    const chunked = await chunkedUpload(h.url, big, API_KEY);
    expect(chunked.status).toBe(413);
    expect((JSON.parse(chunked.body) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');

    const form = new FormData();
    form.append('file', new Blob([big], { type: 'text/csv' }), 'big.csv');
    const multipart = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: form });
    expect(multipart.status).toBe(413);
    expect(((await multipart.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');

    expect(await readdir(path.join(h.dataDir, 'uploads'))).toEqual([]);
  });

  it('a burst past the per-key limit → 429 RATE_LIMITED; another key has its own budget; /healthz is not limited', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${h.url}/v1/lists/${'b'.repeat(32)}`, { headers: { 'x-api-key': OTHER_KEY } });
      statuses.push(res.status);
      if (res.status === 429) expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
      else await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 404).length).toBe(8);
    expect(statuses.slice(8)).toEqual([429, 429, 429, 429]);
    // The upload test above used API_KEY: three requests, well under its own limit.
    const mine = await fetch(`${h.url}/v1/lists/${'b'.repeat(32)}`, { headers: { 'x-api-key': API_KEY } });
    expect(mine.status).toBe(404);
    for (let i = 0; i < 12; i++) expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });
});

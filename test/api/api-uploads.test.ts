/**
 * Uploads without an end (issue 12 item 4), with real hostile clients on raw sockets: an
 * unterminated multipart body, a client that stops sending, one that drips a byte at a time, too
 * many uploads in flight for one key, a missing multipart boundary, and 300 slow clients that
 * vanish — after which no partial file and no file descriptor may be left behind.
 */
import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, OTHER_KEY, startApiHarness, type ApiHarness } from './api-harness.ts';

interface RawUpload {
  socket: net.Socket;
  /** The raw answer once the server has closed the connection (or '' if it never answered). */
  answer: Promise<string>;
  closedAt: Promise<number>;
}

/** Opens an upload by hand: headers (and `first` body bytes) now, the rest whenever the test says. */
function rawUpload(url: string, headers: Record<string, string>, first: string): RawUpload {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let data = '';
  socket.on('data', (c: Buffer) => (data += c.toString()));
  socket.on('error', () => undefined);
  const closedAt = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  const lines = Object.entries({ host: `${hostname}:${port}`, ...headers }).map(([k, v]) => `${k}: ${v}`);
  socket.write(`POST /v1/lists HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${first}`);
  return { socket, answer: closedAt.then(() => data), closedAt };
}

const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const codeOf = (answer: string): string => (/"code":"([A-Z_]+)"/.exec(answer)?.[1] ?? '');
const BOUNDARY = '----hygiene-test-boundary';
const multipartHead = (name = 'contacts.csv') => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/csv\r\n\r\n`;
const csvBody = (rows: number) => `email\n${Array.from({ length: rows }, (_, i) => `user${i}@acme.test`).join('\n')}\n`;

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe('hygiene api: uploads that do not end', () => {
  let h: ApiHarness;
  const IDLE_MS = 600;
  const TOTAL_MS = 2_500;
  beforeAll(async () => {
    h = await startApiHarness({
      HYGIENE_API_UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS),
      HYGIENE_API_REQUEST_TIMEOUT_MS: String(TOTAL_MS),
      HYGIENE_API_UPLOADS_PER_KEY: '2',
    });
  });
  afterAll(async () => {
    await h?.stop();
  });
  const uploads = () => readdir(path.join(h.dataDir, 'uploads'));

  it('a multipart content type without a boundary is 400 MALFORMED_BODY', async () => {
    const res = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { ...h.auth, 'content-type': 'multipart/form-data' }, body: 'email\na@acme.test\n' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_BODY');
  });

  it('a multipart body that ends without its closing boundary is 400, and nothing is kept', async () => {
    const body = `${multipartHead()}${csvBody(3)}`; // no \r\n--boundary-- at the end
    const res = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { ...h.auth, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_BODY');
    expect(await uploads()).toEqual([]);
  });

  it('an unterminated multipart body whose client goes quiet is cut off at the idle timeout (408); its partial file is removed', async () => {
    const started = Date.now();
    const client = rawUpload(h.url, { ...h.auth, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'transfer-encoding': 'chunked' }, '');
    const part = `${multipartHead()}${csvBody(50)}`;
    client.socket.write(`${part.length.toString(16)}\r\n${part}\r\n`);
    expect(await waitFor(async () => (await uploads()).length === 1, 2_000)).toBe(true);
    const answer = await client.answer;
    const elapsed = (await client.closedAt) - started;
    expect(statusOf(answer)).toBe(408);
    expect(codeOf(answer)).toBe('REQUEST_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(IDLE_MS);
    expect(elapsed).toBeLessThan(IDLE_MS + 2_000);
    expect(await uploads()).toEqual([]);
  });

  it('a client dripping one byte at a time is cut off at the total request timeout (408)', async () => {
    const started = Date.now();
    const client = rawUpload(h.url, { ...h.auth, 'content-type': 'text/csv', 'content-length': '100000' }, 'email\n');
    const drip = setInterval(() => client.socket.write('a'), 100);
    try {
      const answer = await client.answer;
      const elapsed = (await client.closedAt) - started;
      expect(statusOf(answer)).toBe(408);
      expect(codeOf(answer)).toBe('REQUEST_TIMEOUT');
      expect(elapsed).toBeGreaterThanOrEqual(TOTAL_MS);
      expect(elapsed).toBeLessThan(TOTAL_MS + 2_000);
    } finally {
      clearInterval(drip);
    }
    expect(await waitFor(async () => (await uploads()).length === 0, 1_000)).toBe(true);
  });

  it('uploads in flight are capped per key (429 TOO_MANY_UPLOADS); other keys are not affected', async () => {
    const holders = [0, 1].map(() => rawUpload(h.url, { ...h.auth, 'content-type': 'text/csv', 'content-length': '100000' }, 'email\n'));
    const drips = holders.map((c) => setInterval(() => c.socket.write('a'), 100));
    try {
      expect(await waitFor(async () => (await uploads()).length === 2, 2_000)).toBe(true);
      const third = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv' }, body: csvBody(2) });
      expect(third.status).toBe(429);
      expect(((await third.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_UPLOADS');
      const other = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { 'x-api-key': OTHER_KEY, 'content-type': 'text/csv' }, body: csvBody(2) });
      expect(other.status).toBe(202);
      // Once the holders are gone (cut at the deadline), the key may upload again.
      for (const c of holders) expect(statusOf(await c.answer)).toBe(408);
    } finally {
      for (const d of drips) clearInterval(d);
    }
    const again = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv' }, body: csvBody(2) });
    expect(again.status).toBe(202);
  });
});

describe('hygiene api: 300 slow uploads that vanish', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    // Long timeouts: whatever is cleaned up here is cleaned up because the clients left.
    h = await startApiHarness({ HYGIENE_API_UPLOADS_PER_KEY: '1000', HYGIENE_API_RATE_LIMIT: '100000', HYGIENE_API_UPLOAD_IDLE_TIMEOUT_MS: '60000' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('leave no partial file and no file descriptor behind', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const files = async () => (await readdir(path.join(h.dataDir, 'uploads'))).length;
    // Warm up the server's lazy parts (multipart, file streams) so the baseline is fair.
    const warm = new FormData();
    warm.append('file', new Blob([csvBody(1)], { type: 'text/csv' }), 'warm.csv');
    expect((await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: h.auth, body: warm })).status).toBe(202);
    await new Promise((r) => setTimeout(r, 300));
    const baseline = { fds: fds(), files: await files() };

    const clients: RawUpload[] = [];
    for (let i = 0; i < 300; i++) {
      const rows = csvBody(100);
      if (i % 2 === 0) {
        clients.push(rawUpload(h.url, { 'x-api-key': API_KEY, 'content-type': 'text/csv', 'content-length': '10000000' }, rows));
      } else {
        const head = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="reject"\r\n\r\nundeliverable\r\n${multipartHead(`slow${i}.csv`)}${rows}`;
        clients.push(rawUpload(h.url, { 'x-api-key': API_KEY, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': '10000000' }, head));
      }
    }
    expect(await waitFor(async () => (await files()) - baseline.files === 300, 20_000)).toBe(true);
    const during = { fds: fds(), files: await files() };
    for (const c of clients) c.socket.destroy();
    const settled = await waitFor(async () => (await files()) === baseline.files && fds() <= baseline.fds + 2, 10_000);
    const after = { fds: fds(), files: await files() };
    console.log(`[slow-uploads] 300 vanishing clients: fds baseline ${baseline.fds}, during ${during.fds}, after ${after.fds}; partial files baseline ${baseline.files}, during ${during.files}, after ${after.files}`);
    expect(settled).toBe(true);
    expect(after.files).toBe(baseline.files);
    expect(after.fds).toBeLessThanOrEqual(baseline.fds + 2);
  });
});

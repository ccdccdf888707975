import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookRequest, verifyWebhookSignature } from '../../src/webhook/webhook-signature.ts';
import { ADMIN_KEY, API_KEY, OTHER_KEY, WEBHOOK_SECRET, pollUntilFinished, startApiHarness, type ApiHarness } from './api-harness.ts';

const CSV = [
  'name,email,company',
  'John,john.doe@acme.test,Acme',
  'Jane,JANE@acme.test,Acme',
  'Nobody,nobody@acme.test,Acme',
  'Old,old.employee@acme.test,Acme',
  'Dup,john.doe@acme.test,Acme',
  'Bad,not-an-address,X',
  'Empty,,X',
  'Gavin,gavin@hooli.test,Hooli',
  'Null,someone@oldcorp.test,Old',
  'Formula,=cmd@acme.test,X',
  'Peter,peter@initech.test,Initech',
].join('\n') + '\n';
const DATA_ROWS = 11;

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

let h: ApiHarness;
let receiver: http.Server;
let receiverUrl = '';
const received: Received[] = [];
let receiverFailuresLeft = 1;

beforeAll(async () => {
  h = await startApiHarness();
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // The first delivery fails: the retry (exponential backoff) must bring it.
      if (receiverFailuresLeft > 0) {
        receiverFailuresLeft -= 1;
        res.writeHead(500).end();
        return;
      }
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/hygiene?token=abc`;
});

afterAll(async () => {
  await h?.stop();
  await new Promise((r) => receiver?.close(r));
});

async function upload(csv: string, query = '', headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${h.url}/v1/lists${query}`, { method: 'POST', headers: { ...h.auth, 'content-type': 'text/csv', ...headers }, body: csv });
}

describe('hygiene api: lists', () => {
  it('upload → 202 → poll → downloads account for every row; a signed webhook arrives', async () => {
    const res = await upload(CSV, `?webhookUrl=${encodeURIComponent(receiverUrl)}&name=leads`);
    expect(res.status).toBe(202);
    const { id, links } = (await res.json()) as { id: string; links: Record<string, string> };
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(links.cleaned).toBe(`/v1/lists/${id}/cleaned.csv`);

    const done = await pollUntilFinished(h, id);
    expect(done.state).toBe('done');
    expect(done.progress).toBe(100);
    expect(done.rows).toBe(DATA_ROWS);
    const counts = done.counts as { byOutcome: Record<string, number>; byFile: Record<'cleaned' | 'rejected', Record<string, number>>; byStatus: Record<string, number>; byReason: Record<string, number> };
    expect(Object.values(counts.byStatus).reduce((a, b) => a + b, 0)).toBe(DATA_ROWS);
    // The headline counts (issue 16) come through the API too: each row once, duplicates on their own line.
    expect(Object.values(counts.byOutcome).reduce((a, b) => a + b, 0)).toBe(DATA_ROWS);
    expect(counts.byOutcome.duplicate).toBe(1);
    expect(Object.values(counts.byFile.rejected).reduce((a, b) => a + b, 0)).toBe(done.rejectedRows);
    expect(Object.values(counts.byReason).reduce((a, b) => a + b, 0)).toBe(DATA_ROWS);
    // nobody@ and =cmd@ (a valid address: = is atext) are unknown mailboxes.
    expect(counts.byReason.mailbox_not_found).toBe(2);
    expect(counts.byReason.duplicate).toBe(1);

    const cleanedRes = await fetch(`${h.url}${links.cleaned}`, { headers: h.auth });
    expect(cleanedRes.status).toBe(200);
    expect(cleanedRes.headers.get('content-type')).toMatch(/text\/csv/);
    expect(cleanedRes.headers.get('content-disposition')).toBe('attachment; filename="leads.cleaned.csv"');
    const rejectedRes = await fetch(`${h.url}${links.rejected}`, { headers: h.auth });
    const cleaned = parse(await cleanedRes.text(), { columns: true }) as Array<Record<string, string>>;
    const rejected = parse(await rejectedRes.text(), { columns: true }) as Array<Record<string, string>>;
    expect(cleaned.length + rejected.length).toBe(DATA_ROWS);
    const emails = [...cleaned, ...rejected].map((r) => r.email).sort();
    const inputEmails = CSV.trim().split('\n').slice(1).map((line) => line.split(',')[1] ?? '');
    // Every input row appears once (the formula guard prefixes the = cell with ').
    expect(emails).toEqual(inputEmails.map((e) => (e.startsWith('=') ? `'${e}` : e)).sort());
    // The mailable address column comes with the download (issue 16).
    expect(cleaned.find((r) => r.email === 'JANE@acme.test')?.hygiene_address).toBe('JANE@acme.test');
    expect(rejected.find((r) => r.email === 'not-an-address')?.hygiene_address).toBe('');
    expect(cleaned.map((r) => r.email)).toContain('john.doe@acme.test');
    expect(rejected.map((r) => r.email)).toContain('nobody@acme.test');

    const reportRes = await fetch(`${h.url}${links.report}`, { headers: h.auth });
    expect(reportRes.headers.get('content-type')).toMatch(/application\/json/);
    const report = (await reportRes.json()) as { rows: number; cleanedRows: number; rejectedRows: number };
    expect(report.rows).toBe(DATA_ROWS);
    expect(report.cleanedRows).toBe(cleaned.length);
    expect(report.rejectedRows).toBe(rejected.length);
    expect(JSON.stringify(report)).not.toContain(API_KEY);
    expect(JSON.stringify(report)).not.toContain(WEBHOOK_SECRET);

    // The webhook: first attempt got a 500, the retry is delivered and its signature verifies.
    const deadline = Date.now() + 20_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(1);
    const hook = received[0]!;
    expect(verifyWebhookSignature(WEBHOOK_SECRET, hook.body, hook.headers['x-hygiene-signature'] as string)).toBe(true);
    expect(verifyWebhookSignature(WEBHOOK_SECRET, `${hook.body} `, hook.headers['x-hygiene-signature'] as string)).toBe(false);
    expect(Number(hook.headers['x-hygiene-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(verifyWebhookRequest(WEBHOOK_SECRET, hook.body, hook.headers['hygiene-signature'] as string)).toEqual({ ok: true, timestamp: Number(hook.headers['x-hygiene-timestamp']) });
    const payload = JSON.parse(hook.body) as { event: string; listId: string; rows: number; counts: unknown };
    expect(payload).toMatchObject({ event: 'list.completed', listId: id, rows: DATA_ROWS, state: 'done' });
    expect(hook.body).not.toContain(h.dataDir);
    // Each attempt was logged with list id, url (query stripped), status and attempt.
    const attempts = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.listId === id && /webhook (delivered|attempt failed)/.test(String(l.msg)));
    expect(attempts.map((a) => [a.status, a.attempt])).toEqual([
      [500, 1],
      [204, 2],
    ]);
    expect(attempts.every((a) => a.url === receiverUrl.split('?')[0])).toBe(true);

    // 409 for downloads of an unfinished list is covered below; DELETE removes keys and files.
    const del = await fetch(`${h.url}/v1/lists/${id}`, { method: 'DELETE', headers: h.auth });
    expect(del.status).toBe(204);
    expect((await fetch(`${h.url}/v1/lists/${id}`, { headers: h.auth })).status).toBe(404);
    expect(await readdir(path.join(h.dataDir, 'lists'))).not.toContain(id);
    expect(await readdir(path.join(h.dataDir, 'uploads'))).toEqual([]);
  });

  it('downloads answer 409 while the list is not done', async () => {
    // A greylisting MX keeps the list verifying for a few seconds.
    const res = await upload('email\nart@vandelay.test\n');
    const { id } = (await res.json()) as { id: string };
    const early = await fetch(`${h.url}/v1/lists/${id}/cleaned.csv`, { headers: h.auth });
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe('LIST_NOT_READY');
    const del = await fetch(`${h.url}/v1/lists/${id}`, { method: 'DELETE', headers: h.auth });
    expect(del.status).toBe(409);
    const done = await pollUntilFinished(h, id);
    expect(done.state).toBe('done');
  });

  it('multipart upload: the client file name never becomes a path', async () => {
    const form = new FormData();
    form.append('emailColumn', 'email');
    form.append('file', new Blob([CSV], { type: 'text/csv' }), '../../../../tmp/evil/..\\..\\pwned.csv');
    const res = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: h.auth, body: form });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = await pollUntilFinished(h, id);
    expect(done.name).toBe('pwned');
    expect(done.rows).toBe(DATA_ROWS);
    // Outputs stay inside the list's own directory.
    const files = await readdir(path.join(h.dataDir, 'lists', id));
    expect(files).toEqual(expect.arrayContaining(['pwned.cleaned.csv', 'pwned.rejected.csv', 'pwned.report.json']));
    expect(files.every((f) => f.startsWith('pwned.')), files.join(' ')).toBe(true);
    const cleaned = await fetch(`${h.url}/v1/lists/${id}/cleaned.csv`, { headers: h.auth });
    expect(cleaned.headers.get('content-disposition')).toBe('attachment; filename="pwned.cleaned.csv"');
  });

  it('a CSV without an email column is refused with 422 and nothing is kept', async () => {
    const res = await upload('name,city\nJohn,Paris\n');
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NO_EMAIL_COLUMN');
    expect(await readdir(path.join(h.dataDir, 'uploads'))).not.toContain(expect.stringMatching(/csv$/));
  });

  it('unknown list → 404 LIST_NOT_FOUND; bad id → 400 VALIDATION_FAILED', async () => {
    const missing = await fetch(`${h.url}/v1/lists/${'a'.repeat(32)}`, { headers: h.auth });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('LIST_NOT_FOUND');
    const bad = await fetch(`${h.url}/v1/lists/..%2F..%2Fetc`, { headers: h.auth });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
  });
});

describe('hygiene api: boundary', () => {
  it('401 without a key, 403 with a wrong one, Bearer accepted; keys never logged', async () => {
    const none = await fetch(`${h.url}/v1/lists/${'a'.repeat(32)}`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    const wrong = await fetch(`${h.url}/v1/lists/${'a'.repeat(32)}`, { headers: { 'x-api-key': 'wrong-key-0123456789abcdef' } });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    const bearer = await fetch(`${h.url}/v1/lists/${'a'.repeat(32)}`, { headers: { authorization: `Bearer ${OTHER_KEY}` } });
    expect(bearer.status).toBe(404);
    const all = h.logs.join('');
    expect(all).toContain('[redacted]');
    expect(all).not.toContain(API_KEY);
    expect(all).not.toContain(OTHER_KEY);
    expect(all).not.toContain('wrong-key-0123456789abcdef');
  });

  it('reject extends the server policy: naming risky and unknown keeps duplicates rejected; -duplicate keeps them; "=" replaces (issue 16)', async () => {
    const route = async (query: string) => {
      const res = await upload(CSV, query);
      expect(res.status, query).toBe(202);
      const { id, links } = (await res.json()) as { id: string; links: Record<string, string> };
      expect((await pollUntilFinished(h, id)).state).toBe('done');
      const read = async (link: string) => parse(await (await fetch(`${h.url}${link}`, { headers: h.auth })).text(), { columns: true }) as Array<Record<string, string>>;
      return { cleaned: await read(links.cleaned!), rejected: await read(links.rejected!) };
    };
    const isDuplicate = (r: Record<string, string>) => r.hygiene_reason === 'duplicate';
    const extended = await route(`?reject=${encodeURIComponent('undeliverable,risky,unknown')}`);
    expect(extended.rejected.filter(isDuplicate)).toHaveLength(1);
    expect(extended.rejected.some((r) => r.hygiene_reason === 'catch_all')).toBe(true);
    const kept = await route(`?reject=${encodeURIComponent('risky,-duplicate')}`);
    expect(kept.cleaned.filter(isDuplicate)).toHaveLength(1);
    const replaced = await route(`?reject=${encodeURIComponent('=undeliverable')}`);
    expect(replaced.cleaned.filter(isDuplicate)).toHaveLength(1);
    expect(replaced.rejected.some((r) => r.hygiene_reason === 'missing_email')).toBe(true);
    const nothingToRemove = await upload(CSV, '?reject=-risky');
    expect(nothingToRemove.status).toBe(400);
    expect(((await nothingToRemove.json()) as { error: { message: string } }).error.message).toMatch(/cannot remove "risky"/);
  });

  it('wrong content type → 415; malformed JSON → 400 MALFORMED_BODY; schema violation → 400 VALIDATION_FAILED', async () => {
    const json = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { ...h.auth, 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(json.status).toBe(415);
    expect(((await json.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const xml = await fetch(`${h.url}/v1/lists`, { method: 'POST', headers: { ...h.auth, 'content-type': 'application/xml' }, body: '<a/>' });
    expect(xml.status).toBe(415);
    expect(((await xml.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const malformed = await fetch(`${h.url}/v1/verify`, { method: 'POST', headers: { ...h.auth, 'content-type': 'application/json' }, body: '{"email": ' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_BODY');
    const invalid = await fetch(`${h.url}/v1/verify`, { method: 'POST', headers: { ...h.auth, 'content-type': 'application/json' }, body: '{"mail":"x"}' });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    const badPolicy = await upload(CSV, '?reject=nonsense_reason');
    expect(badPolicy.status).toBe(400);
    expect(((await badPolicy.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
  });

  it('webhook URL to a private address is refused without the allow flag', async () => {
    const strict = await startApiHarness({ HYGIENE_WEBHOOK_ALLOW_PRIVATE: 'false' });
    try {
      for (const target of ['http://127.0.0.1:9/hook', 'http://10.1.2.3/hook', 'http://[::1]/hook', 'http://169.254.169.254/latest', 'http://localhost/hook', 'file:///etc/passwd']) {
        const res = await fetch(`${strict.url}/v1/lists?webhookUrl=${encodeURIComponent(target)}`, {
          method: 'POST',
          headers: { ...strict.auth, 'content-type': 'text/csv' },
          body: CSV,
        });
        expect(res.status, target).toBe(422);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('WEBHOOK_URL_REFUSED');
      }
      expect(await readdir(path.join(strict.dataDir, 'uploads'))).toEqual([]);
    } finally {
      await strict.stop();
    }
  });

  it('/healthz, /openapi.json, /metrics', async () => {
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', redis: 'up' });

    const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/lists', '/v1/lists/{id}', '/v1/lists/{id}/cleaned.csv', '/v1/verify', '/healthz']));

    expect((await fetch(`${h.url}/metrics`)).status).toBe(401);
    // Per-MX counters and queue sizes span every tenant: admin keys only.
    expect((await fetch(`${h.url}/metrics`, { headers: h.auth })).status).toBe(403);
    const metrics = await (await fetch(`${h.url}/metrics`, { headers: { 'x-api-key': ADMIN_KEY } })).text();
    for (const name of ['hygiene_probe_outcomes_total', 'hygiene_verdicts_total', 'hygiene_smtp_replies_total', 'hygiene_smtp_sessions_total', 'hygiene_smtp_exchange_seconds_bucket', 'hygiene_queue_jobs']) {
      expect(metrics, name).toContain(name);
    }
    // After the list run above: real replies were counted.
    expect(metrics).toMatch(/hygiene_smtp_replies_total\{class="2xx"\} [1-9]/);
    expect(metrics).toMatch(/hygiene_smtp_replies_total\{class="5xx"\} [1-9]/);
    expect(metrics).toMatch(/hygiene_queue_jobs\{queue="verify",state="completed"\} [1-9]/);
  });

  it('the queue dashboard is behind an admin key', async () => {
    expect((await fetch(`${h.url}/admin/queues/api/queues`)).status).toBe(401);
    expect((await fetch(`${h.url}/admin/queues`, { headers: h.auth })).status).toBe(403);
    const page = await fetch(`${h.url}/admin/queues`, { headers: { 'x-api-key': ADMIN_KEY } });
    expect(page.status).toBe(200);
    const queues = (await (await fetch(`${h.url}/admin/queues/api/queues`, { headers: { 'x-api-key': ADMIN_KEY } })).json()) as { queues: Array<{ name: string }> };
    expect(queues.queues.map((q) => q.name).sort()).toEqual(['finalize', 'verify', 'webhook']);
  });
});

describe('hygiene api: POST /v1/verify', () => {
  const verify = async (email: string) => {
    const res = await fetch(`${h.url}/v1/verify`, { method: 'POST', headers: { ...h.auth, 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
    expect(res.status).toBe(200);
    return (await res.json()) as { status: string; reason: string; mx?: string; retryAfterMs?: number; hint?: string };
  };

  it('answers from the simulated world', async () => {
    expect(await verify('jane@acme.test')).toMatchObject({ status: 'deliverable', reason: 'accepted' });
    expect(await verify('ghost@globex.test')).toMatchObject({ status: 'undeliverable', reason: 'mailbox_not_found' });
    expect(await verify('nobody@oldcorp.test')).toMatchObject({ status: 'undeliverable', reason: 'null_mx' });
    expect(await verify('not an address')).toMatchObject({ status: 'undeliverable', reason: 'invalid_syntax' });
  });

  it('a greylisted address is unknown/greylisted with a hint to retry', async () => {
    const answer = await verify('george@vandelay.test');
    expect(answer).toMatchObject({ status: 'unknown', reason: 'greylisted' });
    expect(answer.retryAfterMs).toBeGreaterThan(0);
    expect(answer.hint).toMatch(/again/);
  });
});

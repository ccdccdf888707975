import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/app/redis-connection.ts';
import { isHygieneError } from '../../src/errors.ts';
import { WebhookDispatcher } from '../../src/webhook/webhook-dispatcher.ts';
import { signWebhookBody, signWebhookDelivery, verifyWebhookRequest, verifyWebhookSignature } from '../../src/webhook/webhook-signature.ts';
import { checkWebhookUrl, isPrivateAddress } from '../../src/webhook/webhook-url-policy.ts';
import { clearPrefix, REDIS_URL } from '../api/api-harness.ts';

describe('webhook signature', () => {
  it('is HMAC-SHA256 of the raw body, hex, with a sha256= prefix; verification is exact', () => {
    // echo -n '{"a":1}' | openssl dgst -sha256 -hmac 'secret-0123456789'
    const sig = signWebhookBody('secret-0123456789', '{"a":1}');
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature('secret-0123456789', '{"a":1}', sig)).toBe(true);
    expect(verifyWebhookSignature('secret-0123456789', '{"a":2}', sig)).toBe(false);
    expect(verifyWebhookSignature('other-secret-0123', '{"a":1}', sig)).toBe(false);
    expect(verifyWebhookSignature('secret-0123456789', '{"a":1}', undefined)).toBe(false);
    expect(verifyWebhookSignature('secret-0123456789', '{"a":1}', 'sha256=00')).toBe(false);
  });
});

describe('timestamped webhook signature (Hygiene-Signature: t=...,v1=...)', () => {
  const secret = 'secret-0123456789';
  const body = '{"event":"list.completed","listId":"abc"}';

  it('v1 is HMAC-SHA256 of "t.body"; verification checks it in a tolerance window', () => {
    const header = signWebhookDelivery(secret, body, 1_800_000_000);
    // printf '1800000000.{"event":"list.completed","listId":"abc"}' | openssl dgst -sha256 -hmac secret-0123456789
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(header.split('v1=')[1]).toBe(createHmac('sha256', secret).update(`1800000000.${body}`).digest('hex'));
    expect(verifyWebhookRequest(secret, body, header, { nowSeconds: 1_800_000_000 })).toEqual({ ok: true, timestamp: 1_800_000_000 });
    expect(verifyWebhookRequest(secret, body, header, { nowSeconds: 1_800_000_299 }).ok).toBe(true);
    expect(verifyWebhookRequest(secret, body, header, { nowSeconds: 1_800_000_301 })).toEqual({ ok: false, reason: 'expired' });
    expect(verifyWebhookRequest(secret, body, header, { nowSeconds: 1_800_000_600, toleranceSeconds: 600 }).ok).toBe(true);
    expect(verifyWebhookRequest(secret, `${body} `, header, { nowSeconds: 1_800_000_000 })).toEqual({ ok: false, reason: 'signature' });
    expect(verifyWebhookRequest('other-secret-0123', body, header, { nowSeconds: 1_800_000_000 })).toEqual({ ok: false, reason: 'signature' });
    expect(verifyWebhookRequest(secret, body, undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyWebhookRequest(secret, body, 'v1=00')).toEqual({ ok: false, reason: 'malformed' });
    // Several v1 values (a receiver rotating secrets): one match is enough.
    const rotated = `t=1800000000,v1=${'0'.repeat(64)},v1=${header.split('v1=')[1]}`;
    expect(verifyWebhookRequest(secret, body, rotated, { nowSeconds: 1_800_000_000 }).ok).toBe(true);
  });

  it('a replay with a fresh timestamp fails: the timestamp is signed with the body', () => {
    const captured = signWebhookDelivery(secret, body, 1_800_000_000);
    const v1 = captured.split('v1=')[1]!;
    // An hour later the attacker resends the body with t set to "now" and the captured v1.
    const later = 1_800_003_600;
    expect(verifyWebhookRequest(secret, body, `t=${later},v1=${v1}`, { nowSeconds: later })).toEqual({ ok: false, reason: 'signature' });
    // Unchanged, it is too old.
    expect(verifyWebhookRequest(secret, body, captured, { nowSeconds: later })).toEqual({ ok: false, reason: 'expired' });
    // The legacy body-only header cannot tell the two deliveries apart (why t=...,v1= exists).
    expect(verifyWebhookSignature(secret, body, signWebhookBody(secret, body))).toBe(true);
  });
});

describe('webhook URL policy', () => {
  it('classifies addresses', () => {
    for (const a of ['127.0.0.1', '10.0.0.5', '172.20.1.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', 'not-an-ip']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('checks every address a name resolves to (one private address is enough to refuse)', async () => {
    const lookup = async (host: string) =>
      host === 'mixed.example.test'
        ? [
            { address: '93.184.216.34', family: 4 },
            { address: '10.0.0.1', family: 4 },
          ]
        : [{ address: '93.184.216.34', family: 4 }];
    await expect(checkWebhookUrl('https://public.example.test/hook', { allowPrivate: false, lookup })).resolves.toBeInstanceOf(URL);
    const refused = await checkWebhookUrl('https://mixed.example.test/hook', { allowPrivate: false, lookup }).catch((e: unknown) => e);
    expect(isHygieneError(refused, 'WEBHOOK_URL_REFUSED')).toBe(true);
    expect((refused as Error).message).toMatch(/10\.0\.0\.1/);
    await expect(checkWebhookUrl('https://mixed.example.test/hook', { allowPrivate: true, lookup })).resolves.toBeInstanceOf(URL);
    for (const bad of ['ftp://x.test/', 'not a url', 'http://user:pw@public.example.test/']) {
      expect(isHygieneError(await checkWebhookUrl(bad, { allowPrivate: true, lookup }).catch((e: unknown) => e), 'WEBHOOK_URL_REFUSED'), bad).toBe(true);
    }
  });
});

describe('WebhookDispatcher', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('retries with backoff until the receiver accepts; refuses a private target at delivery without the allow flag', async () => {
    const prefix = `t-webhook-${randomUUID().slice(0, 8)}`;
    cleanups.push(() => clearPrefix(prefix));
    const bodies: Array<{ body: string; sig: string; stamped: string; timestamp: string }> = [];
    let failures = 2;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (failures-- > 0) return void res.writeHead(503).end();
        bodies.push({
          body: Buffer.concat(chunks).toString(),
          sig: String(req.headers['x-hygiene-signature']),
          stamped: String(req.headers['hygiene-signature']),
          timestamp: String(req.headers['x-hygiene-timestamp']),
        });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, done) => (logs.push(JSON.parse(c.toString()) as Record<string, unknown>), done()) }));
    const start = (allowPrivate: boolean, p: string) => {
      const connection = createRedisClient(REDIS_URL, 'test-webhook');
      const workerConnection = createRedisClient(REDIS_URL, 'test-webhook-worker');
      const dispatcher = new WebhookDispatcher({ connection, prefix: `${p}:bull`, secret: 'secret-0123456789', attempts: 5, backoffMs: 50, policy: { allowPrivate }, logger });
      dispatcher.startWorker(workerConnection);
      cleanups.push(async () => {
        await dispatcher.close();
        connection.disconnect();
        workerConnection.disconnect();
      });
      return dispatcher;
    };

    const open = start(true, prefix);
    await open.enqueue('list1', url, 'list.completed', { rows: 3 });
    const deadline = Date.now() + 15_000;
    while (!logs.some((l) => l.listId === 'list1' && l.status === 200) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(bodies).toHaveLength(1);
    expect(verifyWebhookSignature('secret-0123456789', bodies[0]!.body, bodies[0]!.sig)).toBe(true);
    const stamped = verifyWebhookRequest('secret-0123456789', bodies[0]!.body, bodies[0]!.stamped);
    expect(stamped.ok).toBe(true);
    expect(stamped.ok && String(stamped.timestamp)).toBe(bodies[0]!.timestamp);
    expect(JSON.parse(bodies[0]!.body)).toMatchObject({ event: 'list.completed', listId: 'list1', rows: 3 });
    const attempts = logs.filter((l) => l.listId === 'list1');
    expect(attempts.map((l) => [l.status, l.attempt])).toEqual([
      [503, 1],
      [503, 2],
      [200, 3],
    ]);

    const strictPrefix = `${prefix}-strict`;
    cleanups.push(() => clearPrefix(strictPrefix));
    const strict = start(false, strictPrefix);
    await strict.enqueue('list2', url, 'list.failed', { error: 'x' });
    const until = Date.now() + 10_000;
    while (!logs.some((l) => l.listId === 'list2') && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 300));
    expect(logs.filter((l) => l.listId === 'list2').map((l) => l.msg)).toEqual(['webhook target refused']);
    expect(bodies).toHaveLength(1);
  });
});

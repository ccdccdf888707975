/**
 * Tenants (issue 12 item 3): every key has an owner; a list belongs to the tenant that uploaded it;
 * other tenants get 404 (as for a list that does not exist) on status, downloads, report, delete and
 * in listings; admin keys see every list and are the only ones let into the dashboard, its queue
 * controls and /metrics. Failed authentications are limited per client address (real sockets from
 * different loopback addresses).
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressBucket } from '../../src/api/auth-failures.ts';
import { parseApiKeys } from '../../src/config/api-keys.ts';
import { pollUntilFinished, startApiHarness, type ApiHarness } from './api-harness.ts';

const ACME_1 = 'acme-key-one-0123456789abcdef';
const ACME_2 = 'acme-key-two-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const BARE = 'bare-legacy-key-0123456789abcdef';
const ADMIN = 'ops-admin-key-0123456789abcdef';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request from a chosen loopback source address (the whole 127/8 is ours on Linux). */
function request(base: string, method: string, path: string, key: string | undefined, localAddress = '127.0.0.1', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = key ? { 'x-api-key': key } : {};
    if (body !== undefined) headers['content-type'] = 'text/csv';
    const req = http.request(`${base}${path}`, { method, headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const codeOf = (a: Answer): string => (JSON.parse(a.body) as { error?: { code: string } }).error?.code ?? '';

describe('API keys with tenants (config)', () => {
  it('parses tenant:key, bare keys (their own tenant) and admin keys; a key may contain ":" behind its tenant', () => {
    const problems: string[] = [];
    const keys = parseApiKeys(`acme:${ACME_1}, acme:${ACME_2},${BARE},colon:with:colons-0123456789abcdef`, `ops:${ADMIN}`, problems);
    expect(problems).toEqual([]);
    expect(keys.map((k) => [k.tenant, k.admin])).toEqual([
      ['ops', true],
      ['acme', false],
      ['acme', false],
      [expect.stringMatching(/^key-[0-9a-f]{16}$/), false],
      ['colon', false],
    ]);
    expect(keys.find((k) => k.tenant === 'colon')?.key).toBe('with:colons-0123456789abcdef');
    const bad: string[] = [];
    parseApiKeys('acme:short,key-x:0123456789abcdef0123,a:dup-key-0123456789abcdef,b:dup-key-0123456789abcdef', undefined, bad);
    expect(bad).toHaveLength(3);
    expect(bad.join('\n')).not.toContain('dup-key-0123456789abcdef');
  });
});

describe('failed-authentication buckets', () => {
  it('IPv4 by address, IPv6 by /64 (one host usually holds a whole /64), IPv4-mapped as IPv4', () => {
    expect(addressBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:db8:1:2::99')).toBe(addressBucket('2001:0db8:0001:0002:ffff::1'));
    expect(addressBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
  });
});

describe('hygiene api: tenants', () => {
  let h: ApiHarness;
  let acmeList = '';
  let globexList = '';
  let bareList = '';
  beforeAll(async () => {
    h = await startApiHarness({
      HYGIENE_API_KEYS: `acme:${ACME_1},acme:${ACME_2},globex:${GLOBEX},${BARE}`,
      HYGIENE_API_ADMIN_KEYS: `ops:${ADMIN}`,
      HYGIENE_API_AUTH_FAILURES: '5',
      HYGIENE_API_AUTH_LOCKOUT_MS: '3000',
    });
    const upload = async (key: string, name: string) => {
      const res = await request(h.url, 'POST', `/v1/lists?name=${name}`, key, '127.0.0.1', 'email\njane@acme.test\nghost@globex.test\n');
      expect(res.status).toBe(202);
      const id = (JSON.parse(res.body) as { id: string }).id;
      await pollUntilFinished({ ...h, auth: { 'x-api-key': key } }, id);
      return id;
    };
    acmeList = await upload(ACME_1, 'acme-leads');
    globexList = await upload(GLOBEX, 'globex-leads');
    bareList = await upload(BARE, 'bare-leads');
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("a tenant's keys share its lists; another tenant gets 404 everywhere, exactly as for a missing list", async () => {
    const missing = await request(h.url, 'GET', `/v1/lists/${'d'.repeat(32)}`, GLOBEX);
    for (const path of ['', '/cleaned.csv', '/rejected.csv', '/report.json']) {
      expect((await request(h.url, 'GET', `/v1/lists/${acmeList}${path}`, ACME_2)).status, `acme ${path}`).toBe(200);
      const other = await request(h.url, 'GET', `/v1/lists/${acmeList}${path}`, GLOBEX);
      expect(other.status, `globex ${path}`).toBe(404);
      expect(codeOf(other)).toBe('LIST_NOT_FOUND');
      expect(other.body.replace(acmeList, 'ID')).toBe(missing.body.replace('d'.repeat(32), 'ID'));
      expect((await request(h.url, 'GET', `/v1/lists/${acmeList}${path}`, BARE)).status, `bare ${path}`).toBe(404);
    }
    expect((await request(h.url, 'DELETE', `/v1/lists/${acmeList}`, GLOBEX)).status).toBe(404);
    expect((await request(h.url, 'GET', `/v1/lists/${acmeList}`, ACME_1)).status).toBe(200);
  });

  it('listings show a tenant its own lists only; admins see every list with its tenant', async () => {
    const names = async (key: string) => (JSON.parse((await request(h.url, 'GET', '/v1/lists', key)).body) as { lists: Array<{ id: string; tenant?: string }> }).lists;
    expect((await names(ACME_2)).map((l) => l.id)).toEqual([acmeList]);
    expect((await names(GLOBEX)).map((l) => l.id)).toEqual([globexList]);
    expect((await names(BARE)).map((l) => l.id)).toEqual([bareList]);
    expect((await names(GLOBEX))[0]?.tenant).toBeUndefined();
    const all = await names(ADMIN);
    expect(all.map((l) => l.id)).toEqual(expect.arrayContaining([acmeList, globexList, bareList]));
    expect(all.find((l) => l.id === acmeList)?.tenant).toBe('acme');
    // Paging: newest first, one at a time, every list exactly once.
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i++) {
      const page = JSON.parse((await request(h.url, 'GET', `/v1/lists?limit=1${cursor ? `&cursor=${cursor}` : ''}`, ADMIN)).body) as { lists: Array<{ id: string }>; next?: string };
      seen.push(...page.lists.map((l) => l.id));
      if (!page.next) break;
      cursor = page.next;
    }
    expect(seen).toEqual([bareList, globexList, acmeList]);
  });

  it('a list with no tenant (a CLI run on the same Redis) is for admins only; admins can delete any list', async () => {
    const id = 'e'.repeat(32);
    await h.service.runtime.store.create({ id, input: '/tmp/x.csv', name: 'cli', outDir: '/tmp/out', options: { reject: 'undeliverable', neutraliseFormulas: true } });
    await h.service.runtime.store.setState(id, 'failed', { error: 'x' });
    expect((await request(h.url, 'GET', `/v1/lists/${id}`, ACME_1)).status).toBe(404);
    expect((await request(h.url, 'GET', `/v1/lists/${id}`, ADMIN)).status).toBe(200);
    expect((await request(h.url, 'DELETE', `/v1/lists/${globexList}`, ADMIN)).status).toBe(204);
    expect((await request(h.url, 'GET', `/v1/lists/${globexList}`, GLOBEX)).status).toBe(404);
    expect(JSON.parse((await request(h.url, 'GET', '/v1/lists', GLOBEX)).body)).toEqual({ lists: [] });
  });

  it('only admin keys reach the dashboard, its queue controls and /metrics', async () => {
    for (const key of [ACME_1, BARE]) {
      for (const [method, path] of [['GET', '/admin/queues'], ['GET', '/admin/queues/api/queues'], ['PUT', '/admin/queues/api/queues/verify/pause'], ['GET', '/metrics']] as const) {
        const res = await request(h.url, method, path, key);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(codeOf(res)).toBe('ADMIN_REQUIRED');
      }
    }
    expect((await request(h.url, 'GET', '/admin/queues/api/queues', ADMIN)).status).toBe(200);
    expect((await request(h.url, 'GET', '/metrics', ADMIN)).status).toBe(200);
    // A non-admin key could not pause the queue: it is still running.
    const queues = JSON.parse((await request(h.url, 'GET', '/admin/queues/api/queues', ADMIN)).body) as { queues: Array<{ name: string; isPaused: boolean }> };
    expect(queues.queues.find((q) => q.name === 'verify')?.isPaused).toBe(false);
  });

  it('failed authentications are limited per client address: then 429 even with a valid key; other addresses are not affected', async () => {
    const attacker = '127.0.0.3';
    const bystander = '127.0.0.4';
    const id = 'a'.repeat(32);
    for (let i = 0; i < 5; i++) {
      const res = await request(h.url, 'GET', `/v1/lists/${id}`, `guess-${i}-0123456789abcdef`, attacker);
      expect(res.status, `guess ${i}`).toBe(403);
    }
    const locked = await request(h.url, 'GET', `/v1/lists/${id}`, GLOBEX, attacker);
    expect(locked.status).toBe(429);
    expect(codeOf(locked)).toBe('AUTH_RATE_LIMITED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await request(h.url, 'GET', `/v1/lists/${id}`, `guess-x-0123456789abcdef`, attacker)).status).toBe(429);
    // The same valid key from another address works.
    expect((await request(h.url, 'GET', `/v1/lists/${id}`, GLOBEX, bystander)).status).toBe(404);
    // Public routes stay open; the lock ends with its window.
    expect((await request(h.url, 'GET', '/healthz', undefined, attacker)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3_100));
    expect((await request(h.url, 'GET', `/v1/lists/${id}`, GLOBEX, attacker)).status).toBe(404);
  });
});

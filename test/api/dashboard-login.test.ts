/**
 * The queue dashboard from a browser (issue 16): headless Chromium (Debian's /usr/bin/chromium
 * driven by playwright-core) opens /admin/queues, is sent to the login form, is refused with a
 * wrong key and with a valid non-admin key, logs in with an admin key, sees the dashboard render
 * with every asset loaded, and logs out. Session cookie attributes, forged cookies, expiry,
 * cross-origin queue controls and the failed-login limit are checked over plain HTTP.
 * The browser part skips, saying why, when Chromium is not installed (.ci/run installs it).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, API_KEY, startApiHarness, type ApiHarness } from './api-harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[dashboard-login] ${CHROMIUM} not found: the browser checks are skipped (apt-get install -y chromium).`);

/** Logs in with a form post; answers the status, Location and Set-Cookie. */
async function login(base: string, key: string, extra: Record<string, string> = {}): Promise<{ status: number; location: string | null; cookie: string | null; body: string }> {
  const res = await fetch(`${base}/admin/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...extra },
    body: new URLSearchParams({ key, next: '/admin/queues' }).toString(),
    redirect: 'manual',
  });
  return { status: res.status, location: res.headers.get('location'), cookie: res.headers.get('set-cookie'), body: await res.text() };
}
const sessionOf = (setCookie: string | null): string => /^(hygiene_session=[^;]+)/.exec(setCookie ?? '')?.[1] ?? '';

describe('dashboard login in a real browser', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it.skipIf(!haveChromium)('an admin key logs in and the dashboard renders with every asset; a non-admin key is refused; logout ends it', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const context = await browser.newContext();
      // Never the internet from a test: anything not ours that gets past the page's CSP is aborted and recorded.
      const escaped: string[] = [];
      await context.route(
        (url) => !url.href.startsWith(h.url),
        (route) => {
          escaped.push(route.request().url());
          return route.abort();
        },
      );
      const page = await context.newPage();
      const blockedByCsp: string[] = [];
      page.on('requestfailed', (r) => {
        // Chromium reports "csp" (older builds net::ERR_BLOCKED_BY_CSP).
        if (/^csp$|BLOCKED_BY_CSP/.test(r.failure()?.errorText ?? '')) blockedByCsp.push(r.url());
      });
      const failures: string[] = [];
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('response', (r) => {
        if (r.status() >= 400) failures.push(`${r.status()} ${r.url()}`);
      });

      // Not logged in: the dashboard sends the browser to the login form.
      await page.goto(`${h.url}/admin/queues`);
      expect(new URL(page.url()).pathname).toBe('/admin/login');
      expect(await page.locator('h1').innerText()).toMatch(/dashboard/i);

      // A valid key that is not an admin key: refused, no cookie.
      await page.fill('#key', API_KEY);
      await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
      expect(await page.locator('p.error').innerText()).toMatch(/not an admin key/);
      expect(await context.cookies()).toEqual([]);
      // A wrong key: refused.
      await page.fill('#key', 'wrong-key-0123456789abcdef');
      await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
      expect(await page.locator('p.error').innerText()).toMatch(/not valid/);
      expect(await context.cookies()).toEqual([]);
      failures.length = 0; // the two refusals above were 403s on purpose

      // The admin key: the dashboard renders, every asset and API call succeeds.
      await page.fill('#key', ADMIN_KEY);
      await Promise.all([page.waitForURL(`${h.url}/admin/queues`), page.click('button[type=submit]')]);
      for (const queue of ['verify', 'finalize', 'webhook']) {
        await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 });
      }
      await page.waitForLoadState('networkidle');
      expect(failures).toEqual([]);
      expect(requests.some((u) => u.includes('/admin/queues/static/'))).toBe(true);
      expect(requests.some((u) => u.includes('/admin/queues/api/queues'))).toBe(true);
      // Nothing is fetched from elsewhere: the dashboard's CSP stops bull-board's Google Fonts link.
      expect(escaped).toEqual([]);
      expect(blockedByCsp.every((u) => u.startsWith('https://fonts.googleapis.com/'))).toBe(true);
      const [cookie] = await context.cookies();
      expect(cookie).toMatchObject({ name: 'hygiene_session', httpOnly: true, sameSite: 'Strict', secure: false, path: '/admin' });
      expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000 + 3600);
      // A queue's own page too.
      await page.goto(`${h.url}/admin/queues/queue/verify`);
      await page.waitForLoadState('networkidle');
      expect(failures).toEqual([]);

      // Log out (the dashboard's "Log out" link): back at the form, and the dashboard is closed again.
      await page.goto(`${h.url}/admin/logout`);
      expect(new URL(page.url()).pathname).toBe('/admin/login');
      expect(await context.cookies()).toEqual([]);
      await page.goto(`${h.url}/admin/queues`);
      expect(new URL(page.url()).pathname).toBe('/admin/login');
    } finally {
      await browser.close();
    }
  });

  it('the session cookie: attributes, no use after logout, forged values refused, cross-origin controls refused, never sent to /v1', async () => {
    const ok = await login(h.url, ADMIN_KEY);
    expect(ok.status).toBe(303);
    expect(ok.location).toBe('/admin/queues');
    expect(ok.cookie).toMatch(/^hygiene_session=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/admin; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    const session = sessionOf(ok.cookie);
    const api = await fetch(`${h.url}/admin/queues/api/queues`, { headers: { cookie: session } });
    expect(api.status).toBe(200);
    // Behind a TLS proxy (trusted X-Forwarded-Proto) the cookie is Secure.
    const tls = await startApiHarness({ HYGIENE_API_TRUST_PROXY: '127.0.0.1' });
    try {
      expect((await login(tls.url, ADMIN_KEY, { 'x-forwarded-proto': 'https' })).cookie).toMatch(/; Secure$/);
    } finally {
      await tls.stop();
    }
    // A forged signature, or a signature from elsewhere, is not a session.
    const [id, sig] = session.slice('hygiene_session='.length).split('.');
    for (const forged of [`hygiene_session=${id}.${'A'.repeat(43)}`, `hygiene_session=${'B'.repeat(43)}.${sig}`, 'hygiene_session=x']) {
      expect((await fetch(`${h.url}/admin/queues/api/queues`, { headers: { cookie: forged } })).status, forged).toBe(401);
    }
    // Queue controls from a foreign origin are refused even with the cookie.
    const crossSite = await fetch(`${h.url}/admin/queues/api/queues/verify/pause`, { method: 'PUT', headers: { cookie: session, origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    // The cookie is for the dashboard only: /v1 wants a key.
    expect((await fetch(`${h.url}/v1/lists`, { headers: { cookie: session } })).status).toBe(401);
    // Logout deletes the session on the server: a copy of the cookie is worthless afterwards.
    const out = await fetch(`${h.url}/admin/logout`, { headers: { cookie: session }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^hygiene_session=; Path=\/admin; Max-Age=0/);
    expect((await fetch(`${h.url}/admin/queues/api/queues`, { headers: { cookie: session } })).status).toBe(401);
    // Login refusals: a non-admin key (403, no cookie) and the open-redirect guard.
    const nonAdmin = await login(h.url, API_KEY);
    expect(nonAdmin.status).toBe(403);
    expect(nonAdmin.cookie).toBeNull();
    const res = await fetch(`${h.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: ADMIN_KEY, next: 'https://evil.example/' }).toString(),
      redirect: 'manual',
    });
    expect(res.headers.get('location')).toBe('/admin/queues');
  });

  it('sessions expire', async () => {
    const short = await startApiHarness({ HYGIENE_API_SESSION_TTL_MS: '10000' });
    try {
      const session = sessionOf((await login(short.url, ADMIN_KEY)).cookie);
      expect((await fetch(`${short.url}/admin/queues/api/queues`, { headers: { cookie: session } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 10_200));
      expect((await fetch(`${short.url}/admin/queues/api/queues`, { headers: { cookie: session } })).status).toBe(401);
      const page = await fetch(`${short.url}/admin/queues`, { headers: { cookie: session, accept: 'text/html' }, redirect: 'manual' });
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toBe('/admin/login?next=%2Fadmin%2Fqueues');
    } finally {
      await short.stop();
    }
  });

  it('failed logins count towards the per-address limit of failed authentications', async () => {
    const limited = await startApiHarness({ HYGIENE_API_AUTH_FAILURES: '3', HYGIENE_API_AUTH_LOCKOUT_MS: '60000' });
    try {
      for (let i = 0; i < 3; i++) expect((await login(limited.url, `guess-${i}-0123456789abcdef`)).status).toBe(403);
      const locked = await login(limited.url, ADMIN_KEY);
      expect(locked.status).toBe(429);
      expect(locked.cookie).toBeNull();
      expect((await fetch(`${limited.url}/admin/queues/api/queues`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(429);
    } finally {
      await limited.stop();
    }
  });
});

/**
 * The dashboard's browser login: GET /admin/login (a form asking for an admin key), POST
 * /admin/login (form-encoded `key`; an admin key gets a session cookie, see dashboard-session.ts),
 * GET or POST /admin/logout (ends the session). Failed logins count towards the per-address limit
 * of failed authentications, like wrong API keys. The pages are self-contained (no script, no
 * outside asset) and may not be framed.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from './api-auth.ts';
import type { AuthFailureLimiter } from './auth-failures.ts';
import type { DashboardSessions } from './dashboard-session.ts';

export interface DashboardLoginDeps {
  sessions: DashboardSessions;
  matchKey: (key: string) => Principal | undefined;
  failures: AuthFailureLimiter;
  /** Where the dashboard lives (the page to land on after logging in). */
  dashboardPath: string;
}

export const LOGIN_PATH = '/admin/login';
export const LOGOUT_PATH = '/admin/logout';

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(next: string, message?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>list-hygiene: dashboard login</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;display:flex;min-height:100vh;margin:0;align-items:center;justify-content:center}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15);width:22rem}
h1{font-size:1.2rem;margin:0 0 1rem}label{display:block;margin-bottom:.4rem}
input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}
button{margin-top:1rem;padding:.5rem 1rem;font:inherit}p.error{color:#b00020}
</style></head>
<body><form method="post" action="${LOGIN_PATH}">
<h1>list-hygiene queue dashboard</h1>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<label for="key">Admin API key</label>
<input type="password" id="key" name="key" autocomplete="off" required autofocus>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Log in</button>
</form></body></html>
`;
}

export async function registerDashboardLogin(app: FastifyInstance, deps: DashboardLoginDeps): Promise<void> {
  const { sessions, matchKey, failures, dashboardPath } = deps;
  /** Only a page of the dashboard itself may be the landing page (no open redirect). */
  const landing = (next: unknown): string => {
    if (typeof next !== 'string') return dashboardPath;
    return next === dashboardPath || (next.startsWith(`${dashboardPath}/`) && /^[A-Za-z0-9._~/-]*$/.test(next) && !next.includes('//')) ? next : dashboardPath;
  };
  const page = (reply: FastifyReply, status: number, next: string, message?: string): FastifyReply => reply.code(status).headers(PAGE_HEADERS).send(loginPage(next, message));
  const secure = (req: FastifyRequest): boolean => req.protocol === 'https';

  // An encapsulated scope: form bodies are parsed here and nowhere else.
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    scope.get(LOGIN_PATH, { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const next = landing((req.query as Record<string, unknown>).next);
      // No session store: show the login form (it refuses or fails on its own).
      if (await sessions.principalOf(req.headers).catch(() => null)) return reply.redirect(next, 303);
      return page(reply, 200, next);
    });

    scope.post(LOGIN_PATH, { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const form = (req.body ?? {}) as Record<string, unknown>;
      const next = landing(form.next);
      // Redis down: no lock-out known; the key is still checked below.
      const lockedMs = await failures.lockedFor(req.ip).catch(() => 0);
      if (lockedMs > 0) {
        return page(reply.header('retry-after', String(Math.ceil(lockedMs / 1000))), 429, next, `Too many failed attempts from your address; try again in ${Math.ceil(lockedMs / 1000)} s.`);
      }
      const key = typeof form.key === 'string' ? form.key.trim() : '';
      const principal = key === '' ? undefined : matchKey(key);
      if (!principal) {
        // Redis down: the login is still refused; only the lock-out count is lost.
        const locked = await failures.record(req.ip).catch(() => false);
        req.log.warn({ remoteAddress: req.ip, locked }, 'dashboard login failed');
        return page(reply, 403, next, 'That key is not valid.');
      }
      if (!principal.admin) return page(reply, 403, next, 'That key is valid but not an admin key: only admin keys (HYGIENE_API_ADMIN_KEYS) may open the dashboard.');
      req.log.info({ tenant: principal.tenant }, 'dashboard login');
      return reply.header('set-cookie', await sessions.create(principal, secure(req))).header('cache-control', 'no-store').redirect(next, 303);
    });

    const logout = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
      reply.header('set-cookie', await sessions.destroy(req.headers, secure(req))).header('cache-control', 'no-store').redirect(LOGIN_PATH, 303);
    scope.get(LOGOUT_PATH, { config: { public: true }, schema: { hide: true } }, logout);
    scope.post(LOGOUT_PATH, { config: { public: true }, schema: { hide: true } }, logout);
  });
}

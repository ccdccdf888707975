/**
 * The HTTP API (fastify 5): routes, API-key auth, per-key rate limit, error shape, OpenAPI document,
 * /healthz, /metrics and the queue dashboard. Receives everything it talks to (runtime, metrics,
 * webhooks); builds no clients of its own.
 *
 * Public (no key): GET /healthz, GET /openapi.json. Everything else needs a key, including /metrics
 * and /admin/queues. Keys are never logged: the request serializer's headers are redacted, and so
 * are query-string values (loggableRequestUrl).
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { HygieneRuntime } from '../app/runtime.ts';
import type { Config } from '../config/config.ts';
import type { HygieneMetrics } from '../metrics/hygiene-metrics.ts';
import type { WebhookDispatcher } from '../webhook/webhook-dispatcher.ts';
import { createKeyMatcher, keyLabel, presentedKey, type Principal } from './api-auth.ts';
import { createAuthFailureLimiter } from './auth-failures.ts';
import { LOGIN_PATH, registerDashboardLogin } from './dashboard-login.ts';
import { createDashboardSessions } from './dashboard-session.ts';
import { ApiError, toErrorResponse } from './api-errors.ts';
import { registerListRoutes } from './list-routes.ts';
import { registerVerifyRoute } from './verify-route.ts';
import { apiRateLimitNamespace } from '../store/redis-keys.ts';

export interface ApiServerDeps {
  config: Config;
  logger: Logger;
  runtime: HygieneRuntime;
  metrics: HygieneMetrics;
  webhooks: WebhookDispatcher;
  onListFailed: (listId: string, error: string) => Promise<void>;
}

/** Header paths pino replaces with "[redacted]" wherever a request is logged. */
export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
  'headers.authorization',
];

/** Query parameters whose values are logged; every other value (a key, a token, a webhook URL) is not. */
const LOGGED_QUERY_PARAMS = new Set(['emailColumn', 'reject', 'name', 'limit', 'cursor']);

/**
 * A request URL as it may appear in logs: keys are only accepted in headers, but clients (and
 * proxies) put them in query strings anyway (`?api_key=...`), and webhook URLs carry tokens; so
 * every query value not known to be harmless is replaced, whatever its name.
 */
export function loggableRequestUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const cut = url.indexOf('?');
  if (cut < 0) return url;
  const params = [...new URLSearchParams(url.slice(cut + 1))].map(([name, value]) =>
    `${encodeURIComponent(name)}=${LOGGED_QUERY_PARAMS.has(name) ? encodeURIComponent(value) : '[redacted]'}`,
  );
  return `${url.slice(0, cut)}?${params.join('&')}`;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No API key needed (health checks, the OpenAPI document). */
    public?: boolean;
    /** Admin keys only (/metrics; everything under /admin/ is admin-only by its path). */
    admin?: boolean;
  }
  interface FastifyRequest {
    /** Who the request's key belongs to (null on public routes). */
    principal: Principal | null;
  }
}

/** The dashboard (bull-board) and everything else under /admin/: admin keys only. */
function isAdminPath(url: string): boolean {
  return url === '/admin' || url.startsWith('/admin/') || url.startsWith('/admin?');
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

/** No Origin (not a browser's cross-origin request) or one naming this host. */
function sameOrigin(headers: IncomingHttpHeaders): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === headers.host;
  } catch {
    return false;
  }
}

export async function buildApiServer(deps: ApiServerDeps): Promise<FastifyInstance> {
  const { config, runtime, metrics } = deps;
  const logger = deps.logger.child(
    { component: 'api' },
    {
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      // Headers are logged (content type and length explain most upload problems); keys are redacted.
      serializers: {
        req: (req: { method?: string; url?: string; headers?: Record<string, unknown>; ip?: string; socket?: { remoteAddress?: string } }) => ({
          method: req.method,
          url: loggableRequestUrl(req.url),
          headers: { ...req.headers },
          remoteAddress: req.ip ?? req.socket?.remoteAddress,
        }),
      },
    },
  );
  const app = Fastify({
    loggerInstance: logger,
    // Bodies of other routes are small JSON; CSV uploads are streamed and limited by the route.
    bodyLimit: 64 * 1024,
    // A hop count n trusts the n nearest proxies (proxy-addr's rule, written out: fastify's types lack the number form).
    trustProxy: typeof config.api.trustProxy === 'number' ? ((_address: string, hop: number) => hop < (config.api.trustProxy as number)) : config.api.trustProxy,
    // Backstop for every request (Node checks it every 30 s); uploads have a precise watchdog of their own.
    requestTimeout: config.api.requestTimeoutMs,
    // The pino Logger type makes a FastifyInstance<..., Logger>; route modules take the plain type.
  }) as unknown as FastifyInstance;

  const matchKey = createKeyMatcher(config.api.keys);
  const failures = createAuthFailureLimiter(runtime.redis, config.keyPrefix, { maxFailures: config.api.authFailures, windowMs: config.api.authLockoutMs });
  const sessions = createDashboardSessions(runtime.redis, config.keyPrefix, config.api.keys, config.api.sessionTtlMs);
  // Auth runs before everything else (before the rate limit, so buckets are per valid key).
  app.decorateRequest('principal', null);
  // Refusals are answered here, not thrown: routes of the dashboard plugin have an error handler of their own.
  const refuse = (reply: FastifyReply, err: ApiError): FastifyReply => reply.code(err.statusCode).type('application/json').send(toErrorResponse(err).body);
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config?.public === true) return;
    // An address that failed too often is refused whatever it sends now (a valid key included).
    const lockedMs = await failures.lockedFor(req.ip).catch((err: unknown) => {
      req.log.warn({ err: (err as Error).message }, 'could not read the failed-authentication count; not limiting');
      return 0;
    });
    if (lockedMs > 0) {
      const seconds = Math.ceil(lockedMs / 1000);
      return refuse(reply.header('retry-after', String(seconds)), new ApiError(429, 'AUTH_RATE_LIMITED', `Too many failed authentications from this address; retry in ${seconds} s.`));
    }
    const key = presentedKey(req.headers);
    const adminArea = req.routeOptions.config?.admin === true || isAdminPath(req.url);
    // The dashboard in a browser: a session cookie from the login form (dashboard-session.ts).
    if (adminArea && key === undefined && sessions.present(req.headers)) {
      const admin = await sessions.principalOf(req.headers);
      if (admin) {
        // SameSite=Strict keeps the cookie off cross-site requests; refuse a foreign Origin anyway.
        if (!SAFE_METHODS.has(req.method) && !sameOrigin(req.headers)) return refuse(reply, new ApiError(403, 'FORBIDDEN', 'Cross-origin request refused.'));
        req.principal = admin;
        return;
      }
    }
    if (key === undefined) {
      // A person opening the dashboard gets the login form rather than a JSON error.
      if (adminArea && req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) {
        return reply.redirect(`${LOGIN_PATH}?next=${encodeURIComponent(req.url.split('?')[0] ?? '')}`, 303);
      }
      return refuse(reply, new ApiError(401, 'UNAUTHORIZED', 'An API key is required (header x-api-key or Authorization: Bearer).'));
    }
    const principal = matchKey(key);
    if (!principal) {
      // Redis down: the request is still refused (401); only the lock-out count is lost.
      const locked = await failures.record(req.ip).catch(() => false);
      req.log.warn({ remoteAddress: req.ip, locked }, 'authentication failed');
      return refuse(reply, new ApiError(403, 'FORBIDDEN', 'The API key is not valid.'));
    }
    if (adminArea && !principal.admin) {
      return refuse(reply, new ApiError(403, 'ADMIN_REQUIRED', 'This needs an admin key (HYGIENE_API_ADMIN_KEYS).'));
    }
    req.principal = principal;
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, internal } = toErrorResponse(err);
    if (internal) req.log.error({ err }, 'request failed');
    else if (status >= 500) req.log.warn({ code: body.error.code }, body.error.message);
    // An answer before the whole body was read (a refused or cut-off upload): the rest of the body is
    // not read, so the connection closes behind the answer. A client that was cut off for stalling
    // may never read it: its socket is destroyed once the answer is handed over.
    if (status === 413 || !req.raw.complete) void reply.header('connection', 'close');
    if (status === 408 || body.error.code === 'UPLOAD_ABORTED') reply.raw.once('finish', () => req.raw.socket?.destroy());
    void reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0] ?? ''}.` } });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'list-hygiene API', version: '1', description: 'Upload contact CSVs, verify addresses by SMTP, download cleaned and rejected rows.' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
    hideUntagged: true,
  });
  await app.register(rateLimit, {
    global: true,
    max: config.api.rateLimitPerMinute,
    timeWindow: 60_000,
    // Shared through Redis so a fleet of API nodes enforces one limit per key.
    redis: runtime.redis,
    nameSpace: apiRateLimitNamespace(config.keyPrefix),
    skipOnError: true,
    keyGenerator: (req) => {
      const key = presentedKey(req.headers);
      return key ? `key:${keyLabel(key)}` : `ip:${req.ip}`;
    },
    errorResponseBuilder: (_req, context) =>
      new ApiError(429, 'RATE_LIMITED', `Rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s.`),
  });
  await app.register(multipart, { limits: { fileSize: config.api.uploadMaxBytes, files: 1 } });

  app.get(
    '/healthz',
    { config: { public: true, rateLimit: false }, schema: { tags: ['operations'], summary: 'Redis reachable → 200, else 503.', security: [] } },
    async (_req, reply) => {
      const up = await Promise.race([
        runtime.redis.ping().then((r) => r === 'PONG', () => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000).unref()),
      ]);
      if (!up) return reply.code(503).send({ error: { code: 'REDIS_UNAVAILABLE', message: 'Redis does not answer.' } });
      return { status: 'ok', redis: 'up' };
    },
  );
  app.get('/metrics', { config: { rateLimit: false, admin: true }, schema: { tags: ['operations'], summary: 'Prometheus metrics.' } }, async (_req, reply) => {
    return reply.type(metrics.contentType).send(await metrics.render());
  });
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  await registerListRoutes(app, deps);
  registerVerifyRoute(app, runtime, { timeoutMs: config.api.verifyTimeoutMs, refusePrivateMx: !config.api.allowPrivateMx });

  await registerDashboardLogin(app, { sessions, matchKey, failures, dashboardPath: '/admin/queues' });
  // The dashboard may not be framed by another site (its queue controls are one click away), and
  // loads nothing from elsewhere (bull-board's page links Google Fonts: the admin's browser would
  // tell a third party whenever the dashboard is opened; it falls back to local fonts).
  app.addHook('onSend', async (req, reply) => {
    if (!isAdminPath(req.url)) return;
    void reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('content-security-policy')) void reply.header('content-security-policy', DASHBOARD_CSP);
  });
  const board = new FastifyAdapter();
  createBullBoard({
    options: { uiConfig: { boardTitle: 'list-hygiene', miscLinks: [{ text: 'Log out', url: '/admin/logout' }] } },
    queues: [new BullMQAdapter(runtime.verifyQueue), new BullMQAdapter(runtime.finalizeQueue), new BullMQAdapter(deps.webhooks.queue)],
    // @bull-board/fastify 9.10.1 pins its own @bull-board/api 9.10.1 (we have 9.10.2): same shape,
    // separately declared private fields, so TypeScript sees two types.
    serverAdapter: board as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
  });
  board.setBasePath('/admin/queues');
  await app.register(board.registerPlugin(), { prefix: '/admin/queues' });

  return app;
}

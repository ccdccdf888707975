import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/app/redis-connection.ts';
import { createHygieneMetrics } from '../../src/metrics/hygiene-metrics.ts';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/metrics-server.ts';
import { clearPrefix, REDIS_URL } from '../api/api-harness.ts';

describe('hygiene metrics', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('counts replies, sessions, outcomes and verdicts; reads queue depth; served by the worker metrics server', async () => {
    const prefix = `t-metrics-${randomUUID().slice(0, 8)}`;
    cleanups.push(() => clearPrefix(prefix));
    const redis = createRedisClient(REDIS_URL, 'test-metrics');
    const queue = new Queue('verify', { connection: redis, prefix: `${prefix}:bull` });
    cleanups.push(async () => {
      await queue.close();
      redis.disconnect();
    });
    await queue.add('v', {});
    await queue.add('v', {});

    const metrics = createHygieneMetrics({ defaultMetrics: false });
    metrics.watchQueues([queue]);
    metrics.watchPools(() => new Map([['mx1.test', { sessions: 3, maxConcurrentSessions: 2, rcpts: 9, roundTrips: 4, reconnects: 0, errors: 0 }]]));
    metrics.poolEvents.onSessionForList?.('mx1.test', 'l1');
    metrics.poolEvents.onReply?.('mx1.test', 'l1', 250);
    metrics.poolEvents.onReply?.('mx1.test', 'l1', 550);
    metrics.poolEvents.onReply?.('mx1.test', 'l1', 451);
    metrics.poolEvents.onExchange?.('mx1.test', new Set(['l1']), 120);
    const checkedAt = new Date().toISOString();
    metrics.observeOutcomes(
      { listId: 'l1', addresses: [], attempt: 1, maxAttempts: 3 },
      new Map([
        ['a@x.test', { kind: 'verdict', verdict: { status: 'deliverable', reason: 'accepted', detail: '', checkedAt } }],
        ['b@x.test', { kind: 'retry', retryAfterMs: 1000, verdict: { status: 'unknown', reason: 'greylisted', detail: '', checkedAt } }],
      ]),
    );

    const server: MetricsServer = await startMetricsServer(metrics, 0, '127.0.0.1');
    cleanups.push(() => server.close());
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('hygiene_smtp_replies_total{class="2xx"} 1');
    expect(text).toContain('hygiene_smtp_replies_total{class="5xx"} 1');
    expect(text).toContain('hygiene_smtp_replies_total{class="4xx"} 1');
    expect(text).toContain('hygiene_smtp_sessions_total{mx="mx1.test"} 1');
    expect(text).toContain('hygiene_smtp_exchange_seconds_bucket{le="0.25"} 1');
    expect(text).toContain('hygiene_probe_outcomes_total{status="deliverable",reason="accepted",outcome="verdict"} 1');
    expect(text).toContain('hygiene_probe_outcomes_total{status="unknown",reason="greylisted",outcome="retry"} 1');
    expect(text).toContain('hygiene_queue_jobs{queue="verify",state="waiting"} 2');
    expect(text).toContain('hygiene_mx_open_sessions_max{mx="mx1.test"} 2');
    expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
  });
});

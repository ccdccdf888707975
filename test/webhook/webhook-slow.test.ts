/**
 * A slow webhook receiver must not block other deliveries (issue 12 item 5): eight receivers that
 * drip their answer one byte at a time (each byte would reset an idle timeout for ever) while
 * another list's webhook must still arrive promptly; every delivery ends at one total deadline.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/app/redis-connection.ts';
import { WebhookDispatcher } from '../../src/webhook/webhook-dispatcher.ts';
import { clearPrefix, REDIS_URL } from '../api/api-harness.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A receiver that reads the request, then answers one byte every 100 ms and never finishes. */
async function dripReceiver(onConnection: () => void): Promise<string> {
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    onConnection();
    socket.on('error', () => undefined);
    socket.once('data', () => {
      const answer = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-padding: ' + 'z'.repeat(10_000);
      let i = 0;
      const timer = setInterval(() => {
        if (socket.destroyed) return clearInterval(timer);
        socket.write(answer[i++ % answer.length]!);
      }, 100);
      timers.add(timer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(() => r(undefined)));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}

/** A receiver that answers 204 at once and remembers when its (first) delivery arrived (0: none yet). */
async function fastReceiver(): Promise<{ url: string; at: () => number }> {
  let arrivedAt = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivedAt ||= Date.now();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, at: () => arrivedAt };
}

describe('WebhookDispatcher: slow receivers', () => {
  it('8 drip-feeding receivers do not delay another list; each of their attempts ends at the total deadline', async () => {
    const prefix = `t-webhook-slow-${randomUUID().slice(0, 8)}`;
    cleanups.push(() => clearPrefix(prefix));
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, done) => (logs.push(JSON.parse(c.toString()) as Record<string, unknown>), done()) }));

    const fast = await fastReceiver();
    const fastUrl = fast.url;

    let dripConnections = 0;
    const dripUrls = await Promise.all(Array.from({ length: 8 }, () => dripReceiver(() => (dripConnections += 1))));

    const connection = createRedisClient(REDIS_URL, 'test-webhook');
    const workerConnection = createRedisClient(REDIS_URL, 'test-webhook-worker');
    const deadlineMs = 2_000;
    const dispatcher = new WebhookDispatcher({ connection, prefix: `${prefix}:bull`, secret: 'secret-0123456789', attempts: 1, backoffMs: 60_000, policy: { allowPrivate: true }, logger, timeoutMs: deadlineMs });
    dispatcher.startWorker(workerConnection);
    cleanups.push(async () => {
      await dispatcher.close();
      connection.disconnect();
      workerConnection.disconnect();
    });

    const dripStart = Date.now();
    for (const [i, url] of dripUrls.entries()) await dispatcher.enqueue(`drip${i}`, url, 'list.completed', { rows: i });
    const until = Date.now() + 10_000;
    while (dripConnections < 8 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(dripConnections).toBe(8);

    // Every dripping delivery is in flight: another list's webhook must not wait for them.
    const queuedAt = Date.now();
    await dispatcher.enqueue('fast', fastUrl, 'list.completed', { rows: 1 });
    const fastUntil = Date.now() + 8_000;
    while (fast.at() === 0 && Date.now() < fastUntil) await new Promise((r) => setTimeout(r, 10));
    expect(fast.at(), 'the fast receiver never got its webhook').toBeGreaterThan(0);
    const latency = fast.at() - queuedAt;
    expect(latency).toBeLessThan(deadlineMs / 2);

    // And every dripping attempt was cut at the deadline, not kept alive by its bytes.
    const endUntil = Date.now() + 10_000;
    const dripEnds = () => logs.filter((l) => String(l.listId).startsWith('drip') && l.msg === 'webhook attempt failed');
    while (dripEnds().length < 8 && Date.now() < endUntil) await new Promise((r) => setTimeout(r, 25));
    expect(dripEnds()).toHaveLength(8);
    const durations = dripEnds().map((l) => Number(l.ms));
    for (const ms of durations) {
      expect(ms).toBeGreaterThanOrEqual(deadlineMs - 50);
      expect(ms).toBeLessThan(deadlineMs + 1_000);
    }
    console.log(`[webhook-slow] fast delivery latency with 8 dripping receivers: ${latency} ms; drip attempts cut after ${Math.min(...durations)}-${Math.max(...durations)} ms (deadline ${deadlineMs} ms); all 8 ended ${Date.now() - dripStart} ms after they were queued`);
  });

  it('concurrency is bounded: with every slot held by a dripping receiver, another delivery waits at most one deadline', async () => {
    const prefix = `t-webhook-bound-${randomUUID().slice(0, 8)}`;
    cleanups.push(() => clearPrefix(prefix));
    const logger = pino({ level: 'silent' });
    const fast = await fastReceiver();
    let dripConnections = 0;
    const dripUrls = await Promise.all(Array.from({ length: 2 }, () => dripReceiver(() => (dripConnections += 1))));
    const connection = createRedisClient(REDIS_URL, 'test-webhook');
    const workerConnection = createRedisClient(REDIS_URL, 'test-webhook-worker');
    const deadlineMs = 1_500;
    const dispatcher = new WebhookDispatcher({ connection, prefix: `${prefix}:bull`, secret: 'secret-0123456789', attempts: 1, backoffMs: 60_000, policy: { allowPrivate: true }, logger, timeoutMs: deadlineMs, concurrency: 2 });
    dispatcher.startWorker(workerConnection);
    cleanups.push(async () => {
      await dispatcher.close();
      connection.disconnect();
      workerConnection.disconnect();
    });
    for (const [i, url] of dripUrls.entries()) await dispatcher.enqueue(`drip${i}`, url, 'list.completed', {});
    while (dripConnections < 2) await new Promise((r) => setTimeout(r, 10));
    const queuedAt = Date.now();
    await dispatcher.enqueue('fast', fast.url, 'list.completed', {});
    await new Promise((r) => setTimeout(r, deadlineMs / 2));
    // Both slots are busy: the third delivery has not started (the bound holds)...
    expect(fast.at()).toBe(0);
    while (fast.at() === 0 && Date.now() < queuedAt + 5_000) await new Promise((r) => setTimeout(r, 10));
    // ...and starts as soon as a dripping attempt hits its deadline.
    expect(fast.at() - queuedAt).toBeGreaterThan(0);
    expect(fast.at() - queuedAt).toBeLessThan(deadlineMs + 1_000);
  });
});

/**
 * The surface of issues 14/15 end to end on a real Redis, with the engine's side played by the test:
 * a verifier that answers with `provider` / `identity` set and emits the pool events the engine
 * emits (onIdentityActivity, onSenderBlock) into the real MX stats recorder. Checks the
 * hygiene_provider column, report.json's counts.byProvider / providers / identities / alerts (and
 * that they add up), the CLI summary's per-provider lines and SENDER BLOCKED box, the HTML report's
 * tables and alert box, the sender.blocked webhook (queued once per block per list even when two
 * processes record it, delivered signed through the same dispatcher as the list events), and the
 * metrics.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReport, startList, waitForList } from '../../src/app/list-runner.ts';
import { createMxStatsRecorder } from '../../src/app/mx-stats-recorder.ts';
import { createRedisClient } from '../../src/app/redis-connection.ts';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import { providerCodeOf, senderAlert } from '../../src/app/sender-alert.ts';
import { formatSummary } from '../../src/cli/summary.ts';
import type { ListReport, SenderAlert } from '../../src/collector/report.ts';
import type { Verdict } from '../../src/domain/verdict.ts';
import type { BatchVerifier, ProbeOutcome } from '../../src/domain/verifier.ts';
import { createHygieneMetrics } from '../../src/metrics/hygiene-metrics.ts';
import type { SenderBlockEvent } from '../../src/probe/mx-session-pool.ts';
import { renderHtmlReport } from '../../src/report/html-report.ts';
import { listActivityKeys } from '../../src/store/redis-keys.ts';
import { notifySenderBlocked } from '../../src/webhook/list-webhooks.ts';
import { WebhookDispatcher } from '../../src/webhook/webhook-dispatcher.ts';
import { verifyWebhookRequest } from '../../src/webhook/webhook-signature.ts';
import { deletePrefix, readOutput, REDIS_URL, startRuntime, tempDir, uniquePrefix, worldConfig } from '../helpers/run-list.ts';

const SECRET = 'surface-secret-0123456789';
const BANNED = '550 5.7.606 Access denied, banned sending IP [192.0.2.7]. To request removal from this list please visit https://sender.office.com/ and follow the directions. AS(1430)';

const GOOGLE_RATE = '421-4.7.28 [192.0.2.8] Our system has detected an unusual rate of unsolicited mail originating from your IP address.';

let prefix = '';
let runtime: HygieneRuntime | undefined;
let receiver: http.Server | undefined;
let dispatcher: WebhookDispatcher | undefined;
const received: Array<{ body: string; header: string | undefined }> = [];
const redisClients: Array<ReturnType<typeof createRedisClient>> = [];

function block(listIds: string[], cooldownUntil: number): SenderBlockEvent {
  return {
    provider: 'microsoft',
    mx: 'hotmail-test.olc.protection.outlook.com',
    identity: 'proxy-b',
    signature: 'microsoft-banned-sending-ip',
    blocklist: null,
    about: 'ip',
    severity: 'block',
    reply: BANNED,
    means: 'Microsoft bans our sending IP (namespace mining).',
    action: 'Request delisting at https://sender.office.com/ and probe Microsoft more slowly.',
    cooldownUntil,
    level: 1,
    listIds,
  };
}

/** The engine's side: verdicts with provider and identity, and the pool events of one run. */
function fakeEngine(): BatchVerifier {
  const recorderA = createMxStatsRecorder(createClient(), prefix, { onNewAlert: (listId, alert) => notify(listId, alert) });
  // A second process that sees the same block: it must add no second alert and no second webhook.
  const recorderB = createMxStatsRecorder(createClient(), prefix, { onNewAlert: (listId, alert) => notify(listId, alert) });
  const cooldownUntil = Date.parse('2026-12-07T00:15:00.000Z');
  return {
    async verify(batch) {
      const out = new Map<string, ProbeOutcome>();
      const checkedAt = new Date().toISOString();
      for (const a of batch.addresses) {
        let verdict: Verdict;
        if (a.domain === 'gmail.test') verdict = { status: 'deliverable', reason: 'accepted', detail: 'ok', mx: 'gmail-smtp-in.l.google.com', checkedAt, provider: 'google', identity: 'proxy-a' };
        else if (a.local === 'blocked') verdict = { status: 'unknown', reason: 'policy_block', detail: 'Microsoft refused our IP.', smtpReply: BANNED, mx: 'hotmail-test.olc.protection.outlook.com', checkedAt, provider: 'microsoft', identity: 'proxy-b' };
        else if (a.domain === 'hotmail.test') verdict = { status: 'undeliverable', reason: 'mailbox_not_found', detail: 'no', mx: 'hotmail-test.olc.protection.outlook.com', checkedAt, provider: 'microsoft', identity: 'proxy-b' };
        else verdict = { status: 'deliverable', reason: 'accepted', detail: 'ok', mx: 'mx.plain.test', checkedAt, identity: 'proxy-a' };
        out.set(a.address, { kind: 'verdict', verdict });
      }
      const { listId } = batch;
      for (const recorder of [recorderA]) {
        recorder.events.onIdentityActivity?.({ listId, identity: 'proxy-a', provider: 'google', what: 'session' });
        recorder.events.onIdentityActivity?.({ listId, identity: 'proxy-a', provider: 'google', what: 'rcpt', count: 2 });
        recorder.events.onIdentityActivity?.({ listId, identity: 'proxy-a', provider: null, what: 'session' });
        recorder.events.onIdentityActivity?.({ listId, identity: 'proxy-a', provider: null, what: 'rcpt' });
        recorder.events.onIdentityActivity?.({ listId, identity: 'proxy-b', provider: 'microsoft', what: 'session' });
        recorder.events.onIdentityActivity?.({ listId, identity: 'proxy-b', provider: 'microsoft', what: 'rcpt', count: 2 });
        recorder.events.onIdentityActivity?.({ listId, identity: 'proxy-b', provider: 'microsoft', what: 'block' });
        recorder.events.onIdentityActivity?.({ listId, identity: 'proxy-b', provider: 'microsoft', what: 'cooldown', count: 1 });
      }
      recorderA.events.onSenderBlock?.(block([listId], cooldownUntil));
      // A throttle (Google's unusual rate): an alert of severity throttle, no sender.blocked webhook.
      recorderA.events.onSenderBlock?.({ ...block([listId], cooldownUntil - 600_000), provider: 'google', mx: 'gmail-smtp-in.l.google.com', identity: 'proxy-a', signature: 'google-unusual-rate', severity: 'throttle', about: 'rate', reply: GOOGLE_RATE, means: 'Google rate-limits our IP.', action: null });
      recorderB.events.onSenderBlock?.(block([listId, listId], cooldownUntil));
      await Promise.all([recorderA.flush(), recorderB.flush()]);
      return out;
    },
  };
}

function createClient() {
  const client = createRedisClient(REDIS_URL, 'test-surface');
  redisClients.push(client);
  return client;
}

async function notify(listId: string, alert: SenderAlert) {
  await notifySenderBlocked(runtime!.webhookQueue, runtime!.store, listId, alert);
}

let report: ListReport;
let cleaned: Record<string, string>[];
let rejected: Record<string, string>[];

beforeAll(async () => {
  prefix = uniquePrefix('surface');
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ body, header: req.headers['hygiene-signature'] as string | undefined });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  runtime = await startRuntime(worldConfig(null, prefix), { verifier: fakeEngine() });
  const connection = createClient();
  dispatcher = new WebhookDispatcher({ connection, prefix: `${prefix}:bull`, secret: SECRET, attempts: 3, backoffMs: 50, policy: { allowPrivate: true }, logger: pino({ level: 'silent' }) });
  dispatcher.startWorker(createClient());

  const dir = await tempDir('surface');
  const input = path.join(dir, 'leads.csv');
  await writeFile(input, ['email', 'ann@gmail.test', 'bob@gmail.test', 'ANN@gmail.test', 'gone@hotmail.test', 'blocked@hotmail.test', 'zed@plain.test', 'not-an-address'].join('\n') + '\n');
  const started = await startList(runtime, { input, outDir: dir, name: 'leads', options: { reject: 'undeliverable,duplicate', neutraliseFormulas: true, webhookUrl: url } });
  const list = await waitForList(runtime, started.listId, { pollMs: 50 });
  report = await readReport(list);
  cleaned = await readOutput(report.outputs.cleaned, ',');
  rejected = await readOutput(report.outputs.rejected, ',');
}, 60_000);

afterAll(async () => {
  await dispatcher?.close();
  await runtime?.close();
  for (const client of redisClients) client.disconnect();
  await new Promise((resolve) => receiver?.close(resolve));
  await deletePrefix(prefix);
});

describe('provider and identity figures (issues 14/15 surface)', () => {
  it('writes hygiene_provider last in both files', () => {
    const cell = (email: string) => [...cleaned, ...rejected].find((r) => r.email === email)!;
    expect(Object.keys(cleaned[0]!).at(-1)).toBe('hygiene_provider');
    expect(Object.keys(rejected[0]!).at(-1)).toBe('hygiene_provider');
    expect(cell('ann@gmail.test').hygiene_provider).toBe('google');
    expect(cell('ANN@gmail.test')).toMatchObject({ hygiene_reason: 'duplicate', hygiene_provider: 'google' });
    expect(cell('gone@hotmail.test')).toMatchObject({ hygiene_reason: 'mailbox_not_found', hygiene_provider: 'microsoft' });
    expect(cell('blocked@hotmail.test')).toMatchObject({ hygiene_status: 'unknown', hygiene_reason: 'policy_block', hygiene_provider: 'microsoft' });
    expect(cell('zed@plain.test').hygiene_provider).toBe('');
    expect(cell('not-an-address').hygiene_provider).toBe('');
  });

  it('report.json: rows per provider that add up, activity per provider and identity, one alert per block', () => {
    expect(report.counts.byProvider).toEqual({ google: 3, microsoft: 2, none: 2 });
    expect(Object.values(report.counts.byProvider!).reduce((a, b) => a + b, 0)).toBe(report.rows);
    expect(report.providers!.google).toEqual({ rows: 3, byStatus: { deliverable: 3 }, byReason: { accepted: 2, duplicate: 1 }, sessions: 1, rcpts: 2, blocks: 0, throttles: 1, cooldowns: 0 });
    expect(report.providers!.microsoft).toEqual({ rows: 2, byStatus: { undeliverable: 1, unknown: 1 }, byReason: { mailbox_not_found: 1, policy_block: 1 }, sessions: 1, rcpts: 2, blocks: 1, throttles: 0, cooldowns: 1 });
    for (const p of Object.values(report.providers!)) {
      expect(Object.values(p.byStatus).reduce((a, b) => a + (b ?? 0), 0)).toBe(p.rows);
      expect(Object.values(p.byReason).reduce((a, b) => a + (b ?? 0), 0)).toBe(p.rows);
    }
    expect(report.identities).toEqual({ 'proxy-a': { sessions: 2, rcpts: 3, blocks: 0, throttles: 1, cooldowns: 0 }, 'proxy-b': { sessions: 1, rcpts: 2, blocks: 1, throttles: 0, cooldowns: 1 } });
    expect(report.alerts).toHaveLength(2);
    expect(report.alerts![0]).toMatchObject({ provider: 'google', identity: 'proxy-a', severity: 'throttle', code: '4.7.28', cooldownUntil: '2026-12-07T00:05:00.000Z' });
    expect(report.alerts!.slice(1)).toEqual([
      {
        provider: 'microsoft',
        mx: 'hotmail-test.olc.protection.outlook.com',
        identity: 'proxy-b',
        blocklist: null,
        code: '5.7.606',
        signature: 'microsoft-banned-sending-ip',
        about: 'ip',
        severity: 'block',
        reply: BANNED,
        means: 'Microsoft bans our sending IP (namespace mining).',
        action: 'Request delisting at https://sender.office.com/ and probe Microsoft more slowly.',
        level: 1,
        cooldownUntil: '2026-12-07T00:15:00.000Z',
      },
    ]);
    // The existing checks stay true.
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    expect(sum(report.counts.byOutcome!)).toBe(report.rows);
    expect(sum(report.counts.byFile!.cleaned)).toBe(report.cleanedRows);
    expect(sum(report.counts.byFile!.rejected)).toBe(report.rejectedRows);
  });

  it('the CLI summary prints per-provider lines and a loud SENDER BLOCKED box naming provider, identity, code and what to do', () => {
    const text = formatSummary(report);
    expect(text).toMatch(/^google\s+3\s+3\s+0\s+0\s+0\s+1\s+2\s+0$/m);
    expect(text).toMatch(/^microsoft\s+2\s+0\s+1\s+0\s+1\s+1\s+2\s+1$/m);
    expect(text).toContain('!! SENDER BLOCKED: microsoft refused identity proxy-b (provider code 5.7.606) at hotmail-test.olc.protection.outlook.com');
    expect(text).toContain('!!   do:     Request delisting at https://sender.office.com/');
    expect(text).toMatch(/^proxy-b\s+1\s+2\s+1\s+0\s+1$/m);
    expect(text).toContain('!! 1 sender block and 1 throttle:');
    expect(text).toContain('!! SENDER THROTTLED: google slowed identity proxy-a down (provider code 4.7.28)');
  });

  it('the HTML report has the provider and identity tables and the alert box, escaped', () => {
    const html = renderHtmlReport(report);
    expect(html).toContain('<section id="alerts" class="alert" role="alert">');
    expect(html).toContain('refused identity <code>proxy-b</code> (provider code 5.7.606)');
    expect(html).toMatch(/<tr data-provider="google"><td class="name">google<\/td><td class="num">3<\/td>/);
    expect(html).toContain('<tr data-identity="proxy-b">');
    expect(html.indexOf('id="alerts"')).toBeLessThan(html.indexOf('id="status"'));
    const evil = renderHtmlReport({ ...report, alerts: [{ ...report.alerts![0]!, reply: '550 <script>x</script>' }] });
    expect(evil).not.toContain('<script>x');
  });

  it('sender.blocked: queued once per block for the list, delivered signed like the list events', async () => {
    const jobs = (await runtime!.webhookQueue.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed'])).filter((j) => j.data.event === 'sender.blocked');
    expect(jobs).toHaveLength(1);
    expect(await runtime!.redis.hlen(listActivityKeys(prefix, report.listId).alerts)).toBe(2);
    const deadline = Date.now() + 15_000;
    const blocked = () => received.filter((r) => r.body.includes('"sender.blocked"'));
    while ((blocked().length < 1 || !received.some((r) => r.body.includes('"list.completed"'))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(blocked()).toHaveLength(1);
    const { body, header } = blocked()[0]!;
    expect(verifyWebhookRequest(SECRET, body, header).ok).toBe(true);
    expect(JSON.parse(body)).toMatchObject({
      event: 'sender.blocked',
      listId: report.listId,
      provider: 'microsoft',
      identity: 'proxy-b',
      code: '5.7.606',
      blocklist: null,
      cooldownUntil: '2026-12-07T00:15:00.000Z',
      links: { self: `/v1/lists/${report.listId}` },
    });
  });

  it('metrics: per-provider verdicts that add up, sender blocks and per-identity counters', async () => {
    const metrics = createHygieneMetrics({ defaultMetrics: false });
    metrics.listFinished(report);
    metrics.poolEvents.onSenderBlock?.(block(['l1'], Date.now()));
    metrics.poolEvents.onSenderBlock?.({ ...block(['l1'], Date.now()), provider: null, blocklist: 'zen.spamhaus.org', identity: 'proxy-a' });
    metrics.poolEvents.onIdentityActivity?.({ listId: 'l1', identity: 'proxy-a', provider: 'google', what: 'session' });
    metrics.poolEvents.onIdentityActivity?.({ listId: 'l1', identity: 'proxy-a', provider: 'google', what: 'rcpt', count: 5 });
    metrics.poolEvents.onIdentityActivity?.({ listId: 'l1', identity: 'proxy-b', provider: 'microsoft', what: 'cooldown' });
    const text = await metrics.render();
    expect(text).toContain('hygiene_provider_verdicts_total{provider="google",status="deliverable"} 3');
    expect(text).toContain('hygiene_provider_verdicts_total{provider="microsoft",status="unknown"} 1');
    expect(text).toContain('hygiene_provider_verdicts_total{provider="none",status="deliverable"} 1');
    expect(text).toContain('hygiene_provider_verdicts_total{provider="none",status="undeliverable"} 1');
    const perProvider = [...text.matchAll(/^hygiene_provider_verdicts_total\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    const all = [...text.matchAll(/^hygiene_verdicts_total\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    expect(perProvider).toBe(all);
    expect(text).toContain('hygiene_sender_blocks_total{provider="microsoft",identity="proxy-b",blocklist="none"} 1');
    expect(text).toContain('hygiene_sender_blocks_total{provider="none",identity="proxy-a",blocklist="zen.spamhaus.org"} 1');
    metrics.poolEvents.onSenderBlock?.({ ...block(['l1'], Date.now()), severity: 'throttle', provider: 'google', identity: 'proxy-a' });
    const after = await metrics.render();
    expect(after).toContain('hygiene_sender_throttles_total{provider="google",identity="proxy-a"} 1');
    expect(after).toContain('hygiene_sender_blocks_total{provider="microsoft",identity="proxy-b",blocklist="none"} 1');
    expect(text).toContain('hygiene_identity_sessions_total{identity="proxy-a"} 1');
    expect(text).toContain('hygiene_identity_rcpts_total{identity="proxy-a"} 5');
    expect(text).toContain('hygiene_identity_cooldowns_total{identity="proxy-b"} 1');
  });
});

describe('sender alert values', () => {
  it('names the provider code of the common block replies', () => {
    expect(providerCodeOf(BANNED)).toBe('5.7.606');
    expect(providerCodeOf('421 4.7.0 [TSS04] Messages from 192.0.2.7 temporarily deferred due to unexpected volume or user complaints')).toBe('TSS04');
    expect(providerCodeOf('553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.7, because the ip is in Spamhaus\'s list')).toBe('BL21');
    expect(providerCodeOf('550 5.7.1 Unfortunately, messages from [192.0.2.7] weren\'t sent. (S3140)')).toBe('S3140');
    expect(providerCodeOf('421-4.7.28 [192.0.2.7] Our system has detected an unusual rate of unsolicited mail')).toBe('4.7.28');
    expect(providerCodeOf('554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org')).toBe('5.7.1');
    expect(providerCodeOf('554 go away')).toBeNull();
  });

  it('keeps the reply bounded and the cooldown as an ISO time', () => {
    const alert = senderAlert({ ...block(['l'], 0), reply: 'x'.repeat(5000) });
    expect(alert.reply).toHaveLength(1000);
    expect(alert.cooldownUntil).toBe('1970-01-01T00:00:00.000Z');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { createDnsMxResolver } from '../../src/dns/mx-resolver.ts';
import { isHygieneError } from '../../src/errors.ts';
import { startDelayProxy, type DelayProxy } from '../../src/world/delay-proxy.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';
import { connectRaw, type RawSmtpClient } from './raw-smtp-client.ts';

let world: MailWorld | null = null;
let proxy: DelayProxy | null = null;
const clients: RawSmtpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await proxy?.stop();
  await world?.stop();
  world = null;
  proxy = null;
});

async function ask(c: RawSmtpClient, line: string): Promise<string> {
  c.send(line);
  return c.reply();
}

describe('world spec', () => {
  it('lists every problem at once', () => {
    try {
      parseWorldSpec({
        mxHosts: { 'mx.a.test': { ip: '10.0.0.1', behaviour: { pipelining: 'yes', bogus: 1 } }, 'mx.b.test': { ip: '127.0.0.5' } },
        domains: { 'Bad Name': {}, 'n.test': { nullMx: true, mx: [{ host: 'mx.a.test', preference: 1 }] } },
      });
      expect.unreachable();
    } catch (err) {
      expect(isHygieneError(err, 'WORLD_SPEC_INVALID')).toBe(true);
      const problems = (err as { context: { problems: string[] } }).context.problems;
      expect(problems.length).toBeGreaterThanOrEqual(5);
      expect(problems.join('\n')).toMatch(/mxHosts\.mx\.a\.test\.ip/);
      expect(problems.join('\n')).toMatch(/behaviour\.bogus: unknown field/);
    }
  });

  it('loads the demo world', async () => {
    const spec = await loadWorldSpecFile('samples/world.json');
    expect(Object.keys(spec.domains).length).toBeGreaterThanOrEqual(10);
    expect(spec.domains['oldcorp.test']?.nullMx).toBe(true);
    // The demo world makes its own throwaway certificate: the installed package ships no key.
    expect(spec.tls).toBe('self-signed');
  });
});

describe('startMailWorld (demo world)', () => {
  it('serves DNS and every MTA on one port; the dead primary refuses, the backup answers', async () => {
    const spec = await loadWorldSpecFile('samples/world.json');
    world = await startMailWorld(spec);
    const resolver = createDnsMxResolver({ servers: world.dnsServers, timeoutMs: 500, tries: 1 });
    const stark = await resolver.resolve('stark.test');
    if (stark.kind !== 'hosts') throw new Error('expected hosts');
    const [primary, backup] = stark.hosts;
    await expect(connectRaw(primary?.addresses[0] ?? '', world.smtpPort)).rejects.toThrow(/ECONNREFUSED/);
    const c = await connectRaw(backup?.addresses[0] ?? '', world.smtpPort);
    clients.push(c);
    expect(await c.reply()).toBe('220 mx2.stark.test ESMTP Postfix');
    await ask(c, 'EHLO probe.example.test');
    await ask(c, 'MAIL FROM:<probe@example.test>');
    expect(await ask(c, 'RCPT TO:<tony@stark.test>')).toBe('250 2.1.5 Ok');
    expect(world.stats()['mx2.stark.test']?.rcptCount).toBe(1);

    const implicit = await resolver.resolve('tyrell.test');
    expect(implicit).toMatchObject({ kind: 'hosts', implicit: true });
    const t = await connectRaw('127.0.0.18', world.smtpPort);
    clients.push(t);
    await t.reply();
    await ask(t, 'EHLO probe.example.test');
    await ask(t, 'MAIL FROM:<probe@example.test>');
    expect(await ask(t, 'RCPT TO:<roy@tyrell.test>')).toBe('250 2.1.5 Ok');
    expect(world.dnsStats().queries).toBeGreaterThan(0);
  });
});

describe('startDelayProxy', () => {
  it('adds the one-way delay in each direction', async () => {
    const spec = parseWorldSpec({ mxHosts: { 'mx.d.test': { ip: '127.0.9.40' } }, domains: {} });
    world = await startMailWorld(spec);
    proxy = await startDelayProxy({ listenHost: '127.0.0.1', listenPort: 0, targetHost: '127.0.9.40', targetPort: world.smtpPort, oneWayDelayMs: 40 });
    const c = await connectRaw(proxy.host, proxy.port);
    clients.push(c);
    expect(await c.reply()).toBe('220 mx.d.test ESMTP Postfix');
    const t = Date.now();
    expect(await ask(c, 'NOOP')).toBe('250 2.0.0 Ok');
    expect(Date.now() - t).toBeGreaterThanOrEqual(75);
    expect(await ask(c, 'QUIT')).toBe('221 2.0.0 Bye');
    await c.closed;
  });
});

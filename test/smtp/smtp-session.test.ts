import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isSmtpError, type SmtpError } from '../../src/errors.ts';
import { mailFrom, rcptTo, rset } from '../../src/smtp/smtp-commands.ts';
import { SmtpExchangeError, SmtpSession, type SmtpSessionOptions, type TranscriptEntry } from '../../src/smtp/smtp-session.ts';
import { startScriptedSmtpServer, type ScriptedConnection, type ScriptedSmtpServer, type SmtpScript } from '../peers/scripted-smtp-server.ts';

const TLS_KEY = readFileSync(new URL('../fixtures/tls/mx.test.key.pem', import.meta.url));
const TLS_CERT = readFileSync(new URL('../fixtures/tls/mx.test.cert.pem', import.meta.url));

const servers: ScriptedSmtpServer[] = [];
const sessions: SmtpSession[] = [];

async function serve(script: SmtpScript): Promise<ScriptedSmtpServer> {
  const server = await startScriptedSmtpServer(script);
  servers.push(server);
  return server;
}

function options(server: ScriptedSmtpServer, extra: Partial<SmtpSessionOptions> = {}): SmtpSessionOptions {
  return {
    host: server.host,
    port: server.port,
    serverName: 'mx.test',
    heloName: 'probe.example.org',
    tls: 'off',
    timeouts: { connectMs: 500, greetingMs: 500, commandMs: 400 },
    ...extra,
  };
}

async function open(server: ScriptedSmtpServer, extra: Partial<SmtpSessionOptions> = {}): Promise<SmtpSession> {
  const session = await SmtpSession.open(options(server, extra));
  sessions.push(session);
  return session;
}

async function rejection(promise: Promise<unknown>): Promise<SmtpError> {
  try {
    await promise;
  } catch (err) {
    if (isSmtpError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Greeting + EHLO with the given capabilities. */
async function greetAndEhlo(c: ScriptedConnection, capabilities: string[]): Promise<void> {
  c.send('220 mx.test ESMTP\r\n');
  await c.expectLine(/^EHLO probe\.example\.org$/);
  const lines = ['mx.test', ...capabilities];
  c.send(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
}

/** Answer commands strictly one at a time; records whether the client ever had two outstanding. */
async function answerOneByOne(c: ScriptedConnection, answer: (line: string) => string, state: { overlap: boolean }): Promise<void> {
  for (;;) {
    const line = await c.readLine(2_000);
    if (line === null) return;
    await sleep(30); // give a misbehaving client time to send the next command early
    if (c.unread() > 0) state.overlap = true;
    c.send(answer(line));
    if (/^QUIT/i.test(line)) {
      c.end();
      return;
    }
  }
}

function simpleAnswer(line: string): string {
  if (/^QUIT/i.test(line)) return '221 2.0.0 Bye\r\n';
  if (/^RCPT TO:<nobody@/i.test(line)) return '550 5.1.1 <nobody@d.test>: Recipient address rejected: User unknown in local recipient table\r\n';
  if (/^MAIL/i.test(line)) return '250 2.1.0 Ok\r\n';
  if (/^RSET/i.test(line)) return '250 2.0.0 Ok\r\n';
  return '250 2.1.5 Ok\r\n';
}

afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  for (const server of servers.splice(0)) {
    await server.close();
    // DATA and BDAT must never reach any server, in any test.
    for (const c of server.connections) {
      for (const line of c.lines) expect(line).not.toMatch(/^\s*(DATA|BDAT)\b/i);
    }
  }
});

describe('SmtpSession: greeting and EHLO', () => {
  it('waits for the final 220 line of a multi-line greeting before speaking', async () => {
    let sentEarly: string | undefined;
    const server = await serve(async (c) => {
      c.send('220-mx.test ESMTP postscreen teaser\r\n');
      await sleep(150);
      c.send('220-still talking\r\n');
      await sleep(150);
      sentEarly = c.received();
      c.send('220 mx.test ESMTP ready\r\n');
      await c.expectLine(/^EHLO /);
      c.send('250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n');
      await c.expectLine(/^QUIT$/);
      c.send('221 2.0.0 Bye\r\n');
      c.end();
    });
    const transcript: TranscriptEntry[] = [];
    const session = await open(server, { onTranscript: (e) => transcript.push(e) });
    expect(sentEarly).toBe('');
    expect(session.greeting.code).toBe(220);
    expect(session.greeting.lines).toEqual(['mx.test ESMTP postscreen teaser', 'still talking', 'mx.test ESMTP ready']);
    expect([...session.extensions].sort()).toEqual(['8BITMIME', 'PIPELINING', 'SIZE', 'SMTPUTF8']);
    expect(session.supportsPipelining).toBe(true);
    expect(session.supportsSmtputf8).toBe(true);
    expect(session.tlsActive).toBe(false);
    expect(session.roundTrips).toBe(2);
    expect(session.commandsSent).toBe(1);
    await session.quit();
    expect(session.closed).toBe(true);
    expect(server.connections[0]?.lines).toEqual(['EHLO probe.example.org', 'QUIT']);
    expect(transcript.map((e) => e.direction)).toContain('client');
    expect(transcript.find((e) => e.direction === 'client')?.text).toBe('EHLO probe.example.org');
    await server.settled();
    expect(server.scriptErrors).toEqual([]);
  });

  it('falls back to HELO after EHLO 502, then never pipelines', async () => {
    const state = { overlap: false };
    const server = await serve(async (c) => {
      c.send('220 mx.test ESMTP\r\n');
      await c.expectLine(/^EHLO /);
      c.send('502 5.5.2 Error: command not recognized\r\n');
      await c.expectLine(/^HELO probe\.example\.org$/);
      c.send('250 mx.test\r\n');
      await answerOneByOne(c, simpleAnswer, state);
    });
    const session = await open(server);
    expect(session.supportsPipelining).toBe(false);
    expect(session.extensions.size).toBe(0);
    const before = session.roundTrips;
    const replies = await session.exchange([mailFrom('bounce@probe.example.org'), rcptTo('a@d.test'), rcptTo('nobody@d.test'), rcptTo('b@d.test'), rset()]);
    expect(replies.map((r) => r.code)).toEqual([250, 250, 550, 250, 250]);
    expect(replies[2]?.enhanced).toBe('5.1.1');
    expect(session.roundTrips - before).toBe(5);
    await session.quit();
    expect(state.overlap).toBe(false);
  });

  it('sends one command at a time to a server that does not advertise PIPELINING, even with concurrent calls', async () => {
    const state = { overlap: false };
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['SIZE 1000', '8BITMIME']);
      await answerOneByOne(c, simpleAnswer, state);
    });
    const session = await open(server);
    expect(session.supportsPipelining).toBe(false);
    const [first, second] = await Promise.all([
      session.exchange([mailFrom('bounce@probe.example.org'), rcptTo('a@d.test'), rcptTo('nobody@d.test')]),
      session.exchange([rset(), mailFrom('bounce@probe.example.org'), rcptTo('c@d.test')]),
    ]);
    expect(first?.map((r) => r.code)).toEqual([250, 250, 550]);
    expect(second?.map((r) => r.code)).toEqual([250, 250, 250]);
    await session.quit();
    expect(state.overlap).toBe(false);
    expect(server.connections[0]?.lines.slice(1, 7)).toEqual([
      'MAIL FROM:<bounce@probe.example.org>',
      'RCPT TO:<a@d.test>',
      'RCPT TO:<nobody@d.test>',
      'RSET',
      'MAIL FROM:<bounce@probe.example.org>',
      'RCPT TO:<c@d.test>',
    ]);
  });

  it('rejects a 5xx greeting after a polite QUIT', async () => {
    const server = await serve(async (c) => {
      c.send('554 5.7.1 mx.test: Client host rejected: listed at zen.spamhaus.org\r\n');
      await c.expectLine(/^QUIT$/);
      c.send('221 Bye\r\n');
      c.end();
    });
    const err = await rejection(open(server));
    expect(err.code).toBe('SMTP_GREETING_REJECTED');
    expect(err.context.reply?.code).toBe(554);
    await server.connections[0]?.closed;
    expect(server.connections[0]?.lines).toEqual(['QUIT']);
  });

  it('sends nothing after a 421 greeting', async () => {
    const server = await serve(async (c) => {
      c.send('421 4.3.2 mx.test Service not available, too many connections\r\n');
      await c.closed;
    });
    const err = await rejection(open(server));
    expect(err.code).toBe('SMTP_GREETING_REJECTED');
    await server.connections[0]?.closed;
    expect(server.connections[0]?.received()).toBe('');
  });

  it('reports EHLO rejections other than 500/502', async () => {
    const server = await serve(async (c) => {
      c.send('220 mx.test ESMTP\r\n');
      await c.expectLine(/^EHLO /);
      c.send('550 5.7.1 <probe.example.org>: Helo command rejected: Host not found\r\n');
      await c.expectLine(/^QUIT$/);
      c.send('221 Bye\r\n');
    });
    const err = await rejection(open(server));
    expect(err.code).toBe('SMTP_EHLO_REJECTED');
    expect(err.context.reply?.code).toBe(550);
  });

  it('refuses a bad HELO name before connecting', async () => {
    const server = await serve(() => {});
    const err = await rejection(SmtpSession.open(options(server, { heloName: 'bad name\r\nDATA' })));
    expect(err.code).toBe('SMTP_UNSAFE_INPUT');
    await sleep(50);
    expect(server.connections).toHaveLength(0);
  });

  it('reports a refused connection', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const err = await rejection(
      SmtpSession.open({ host: '127.0.0.1', port, serverName: 'mx.test', heloName: 'probe.example.org', tls: 'off', timeouts: { connectMs: 500, greetingMs: 500, commandMs: 500 } }),
    );
    expect(err.code).toBe('SMTP_CONNECT_FAILED');
  });

  it('times out on a silent server and closes the socket', async () => {
    const server = await serve(async (c) => {
      await c.closed;
    });
    const started = Date.now();
    const err = await rejection(open(server, { timeouts: { connectMs: 500, greetingMs: 200, commandMs: 200 } }));
    expect(err.code).toBe('SMTP_TIMEOUT');
    expect(err.context.phase).toBe('greeting');
    expect(Date.now() - started).toBeLessThan(1_000);
    await server.connections[0]?.closed;
    expect(server.connections[0]?.isClosed()).toBe(true);
    expect(server.connections[0]?.received()).toBe('');
  });
});

describe('SmtpSession: STARTTLS', () => {
  it('upgrades with a self-signed certificate, discards injected bytes, and forgets the old EHLO', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING', 'STARTTLS']);
      await c.expectLine(/^STARTTLS$/);
      // A plaintext reply injected after the 220 must be discarded (RFC 3207 §6).
      c.send('220 2.0.0 Ready to start TLS\r\n250 injected\r\n');
      await c.startTls({ key: TLS_KEY, cert: TLS_CERT });
      await c.expectLine(/^EHLO probe\.example\.org$/);
      c.send('250-mx.test\r\n250-SMTPUTF8\r\n250 SIZE 1000\r\n');
      await answerOneByOne(c, simpleAnswer, { overlap: false });
    });
    const session = await open(server, { tls: 'opportunistic' });
    expect(session.tlsActive).toBe(true);
    expect(session.extensions.has('STARTTLS')).toBe(false);
    expect(session.supportsPipelining).toBe(false);
    expect(session.supportsSmtputf8).toBe(true);
    const replies = await session.exchange([mailFrom('bounce@probe.example.org'), rcptTo('nobody@d.test')]);
    expect(replies.map((r) => r.code)).toEqual([250, 550]);
    await session.quit();
    await server.settled();
    expect(server.scriptErrors).toEqual([]);
    expect(server.connections[0]?.lines).toEqual([
      'EHLO probe.example.org',
      'STARTTLS',
      'EHLO probe.example.org',
      'MAIL FROM:<bounce@probe.example.org>',
      'RCPT TO:<nobody@d.test>',
      'QUIT',
    ]);
  });

  it("fails with SMTP_TLS_REQUIRED when STARTTLS is not offered and tls is 'required'", async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING']);
      await c.expectLine(/^QUIT$/);
      c.send('221 Bye\r\n');
    });
    const err = await rejection(open(server, { tls: 'required' }));
    expect(err.code).toBe('SMTP_TLS_REQUIRED');
  });

  it('fails with SMTP_TLS_FAILED when the handshake breaks', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['STARTTLS']);
      await c.expectLine(/^STARTTLS$/);
      c.send('220 Go ahead\r\n');
      await sleep(50);
      c.send('this is not TLS at all\r\n');
      await c.closed;
    });
    const err = await rejection(open(server, { tls: 'opportunistic' }));
    expect(err.code).toBe('SMTP_TLS_FAILED');
    await server.connections[0]?.closed;
  });

  it("does not use STARTTLS when tls is 'off'", async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['STARTTLS']);
      await c.expectLine(/^QUIT$/);
      c.send('221 Bye\r\n');
    });
    const session = await open(server, { tls: 'off' });
    expect(session.tlsActive).toBe(false);
    await session.quit();
  });
});

describe('SmtpSession: exchange', () => {
  it('pipelines MAIL/RCPT/RSET as one group and matches replies by count', async () => {
    let arrivedTogether = 0;
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING', 'SIZE 1000']);
      await c.expectLine(/^MAIL FROM:/);
      await sleep(50);
      arrivedTogether = c.unread() + 1;
      c.send(
        '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n' +
          '550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n' +
          '550 5.1.1 double-checking the recipient\'s email address. - gsmtp\r\n',
      );
      await sleep(20);
      c.send('452 4.5.3 Error: too many recipients\r\n250 2.0.0 Ok\r\n');
      for (let i = 0; i < 4; i += 1) await c.readLine();
      await c.expectLine(/^QUIT$/);
      c.send('221 Bye\r\n');
    });
    const session = await open(server);
    const before = session.roundTrips;
    const replies = await session.exchange([mailFrom('bounce@probe.example.org'), rcptTo('a@d.test'), rcptTo('nobody@d.test'), rcptTo('c@d.test'), rset()]);
    expect(arrivedTogether).toBe(5);
    expect(session.roundTrips - before).toBe(1);
    expect(replies.map((r) => r.code)).toEqual([250, 250, 550, 452, 250]);
    expect(replies[2]?.lines).toHaveLength(2);
    expect(replies[3]?.enhanced).toBe('4.5.3');
    expect(session.commandsSent).toBe(6);
    await session.quit();
  });

  it('rejects with the replies received so far when the server drops after 2 of 5 RCPTs', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING']);
      await c.expectLine(/^MAIL FROM:/);
      c.send('250 2.1.0 Ok\r\n');
      for (let i = 0; i < 5; i += 1) await c.expectLine(/^RCPT TO:/);
      c.send('250 2.1.5 Ok\r\n550 5.1.1 User unknown\r\n');
      await sleep(20);
      c.destroy();
    });
    const session = await open(server);
    await session.exchange([mailFrom('bounce@probe.example.org')]);
    const err = await rejection(session.exchange(['a', 'b', 'c', 'd', 'e'].map((l) => rcptTo(`${l}@d.test`))));
    expect(err).toBeInstanceOf(SmtpExchangeError);
    expect(err.code).toBe('SMTP_CLOSED');
    expect((err as SmtpExchangeError).answered.map((r) => r.code)).toEqual([250, 550]);
    expect(session.closed).toBe(true);
    // A closed session refuses further work at once.
    const again = await rejection(session.exchange([rset()]));
    expect(again.code).toBe('SMTP_CLOSED');
    await session.quit(); // never throws
  });

  it('stops at a 421 in the middle of a group and sends nothing more', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING']);
      for (let i = 0; i < 6; i += 1) await c.readLine();
      c.send('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 User unknown\r\n421 4.7.0 mx.test Error: too many errors\r\n');
      await c.closed;
    });
    const session = await open(server);
    const err = await rejection(session.exchange([mailFrom('bounce@probe.example.org'), ...['a', 'b', 'c', 'd', 'e'].map((l) => rcptTo(`${l}@d.test`))]));
    expect(err.code).toBe('SMTP_SERVICE_CLOSING');
    expect((err as SmtpExchangeError).answered.map((r) => r.code)).toEqual([250, 250, 550]);
    expect(err.context.reply?.enhanced).toBe('4.7.0');
    expect(session.closed).toBe(true);
    await session.quit();
    const again = await rejection(session.exchange([rset()]));
    expect(again.code).toBe('SMTP_SERVICE_CLOSING');
    await server.connections[0]?.closed;
    expect(server.connections[0]?.lines).toHaveLength(7); // EHLO + 6, no QUIT
  });

  it('treats an unsolicited 421 while idle as closing', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING']);
      await sleep(30);
      c.send('421 4.4.2 mx.test Error: timeout exceeded\r\n');
      await c.closed;
    });
    const session = await open(server);
    await sleep(100);
    expect(session.closed).toBe(true);
    const err = await rejection(session.exchange([rset()]));
    expect(err.code).toBe('SMTP_SERVICE_CLOSING');
    expect(server.connections[0]?.lines).toEqual(['EHLO probe.example.org']);
  });

  it('times out a command the server never answers', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, []);
      await c.expectLine(/^MAIL FROM:/);
      c.send('250 2.1.0 Ok\r\n');
      await c.expectLine(/^RCPT TO:/);
      await c.closed;
    });
    const session = await open(server, { timeouts: { connectMs: 500, greetingMs: 500, commandMs: 200 } });
    const err = await rejection(session.exchange([mailFrom('bounce@probe.example.org'), rcptTo('a@d.test'), rcptTo('b@d.test')]));
    expect(err.code).toBe('SMTP_TIMEOUT');
    expect((err as SmtpExchangeError).answered.map((r) => r.code)).toEqual([250]);
    expect(session.closed).toBe(true);
    await server.connections[0]?.closed;
  });

  it('parses bare-LF replies and always sends CRLF', async () => {
    const server = await serve(async (c) => {
      c.send('220-mx.test\n220 ESMTP\n');
      await c.expectLine(/^EHLO /);
      c.send('250-mx.test\n250 PIPELINING\n');
      await c.expectLine(/^MAIL/);
      await c.expectLine(/^RCPT/);
      c.send('250 2.1.0 Ok\n550-5.1.1 no\n550 5.1.1 such user\n');
      await c.expectLine(/^QUIT$/);
      c.send('221 Bye\n');
    });
    const session = await open(server);
    expect(session.supportsPipelining).toBe(true);
    const replies = await session.exchange([mailFrom('bounce@probe.example.org'), rcptTo('x@d.test')]);
    expect(replies.map((r) => [r.code, r.enhanced, r.lines])).toEqual([
      [250, '2.1.0', ['Ok']],
      [550, '5.1.1', ['no', 'such user']],
    ]);
    await session.quit();
    const sent = server.connections[0]?.received() ?? '';
    expect(sent.endsWith('\r\n')).toBe(true);
    expect(sent.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });
});

describe('SmtpSession: quit and close', () => {
  it('quit waits at most commandMs for a server that ignores QUIT, then closes; close is idempotent', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, []);
      await c.expectLine(/^QUIT$/);
      await c.closed;
    });
    const session = await open(server, { timeouts: { connectMs: 500, greetingMs: 500, commandMs: 150 } });
    const started = Date.now();
    await session.quit();
    expect(Date.now() - started).toBeLessThan(600);
    expect(session.closed).toBe(true);
    session.close();
    session.close();
    await session.quit();
    await server.connections[0]?.closed;
  });
});

describe('SmtpSession: hostile servers', () => {
  async function protocolFailure(reply: (c: ScriptedConnection) => void): Promise<{ err: SmtpError; session: SmtpSession; server: ScriptedSmtpServer }> {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, []);
      await c.expectLine(/^RCPT/);
      reply(c);
      await c.closed;
    });
    const session = await open(server);
    const err = await rejection(session.exchange([rcptTo('x@d.test')]));
    await server.connections[0]?.closed;
    return { err, session, server };
  }

  it('closes on an overlong line', async () => {
    const { err, session } = await protocolFailure((c) => c.send('250 ' + 'x'.repeat(5_000)));
    expect(err.code).toBe('SMTP_PROTOCOL');
    expect(session.closed).toBe(true);
  });

  it('closes on an endless stream without newlines', async () => {
    const { err, session } = await protocolFailure((c) => {
      for (let i = 0; i < 20; i += 1) c.send('2'.repeat(1_000));
    });
    expect(err.code).toBe('SMTP_PROTOCOL');
    expect(session.closed).toBe(true);
  });

  it('closes on garbage', async () => {
    const { err, session } = await protocolFailure((c) => c.send('HTTP/1.1 400 Bad Request\r\n'));
    expect(err.code).toBe('SMTP_PROTOCOL');
    expect(session.closed).toBe(true);
  });

  it('closes on a flood of continuation lines', async () => {
    const { err, session } = await protocolFailure((c) => c.send('250-flood\r\n'.repeat(500)));
    expect(err.code).toBe('SMTP_PROTOCOL');
    expect(session.closed).toBe(true);
  });

  it('closes on replies nobody asked for, and returns none of them (issue 12: out of step)', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, []);
      await c.expectLine(/^RCPT/);
      c.send('250 Ok\r\n250 Ok\r\n250 Ok\r\n'.repeat(100));
      await c.closed;
    });
    const session = await open(server);
    // One RCPT, 300 replies: which one answers it? None is returned; the session dies.
    const err = await rejection(session.exchange([rcptTo('x@d.test')]));
    expect(err.code).toBe('SMTP_DESYNC');
    expect(err.message).toMatch(/out of step with our commands: it sent a reply no command was waiting for/);
    await server.connections[0]?.closed;
    expect(session.closed).toBe(true);
    expect(session.closeReason?.code).toBe('SMTP_DESYNC');
    const again = await rejection(session.exchange([rset()]));
    expect(again.code).toBe('SMTP_DESYNC');
  });

  it('rejects a garbage greeting', async () => {
    const server = await serve(async (c) => {
      c.send('SSH-2.0-OpenSSH_9.6\r\n');
      await c.closed;
    });
    const err = await rejection(open(server));
    expect(err.code).toBe('SMTP_PROTOCOL');
    await server.connections[0]?.closed;
    expect(server.connections[0]?.received()).toBe('');
  });
});

describe('SmtpSession: unsafe input never reaches the wire', () => {
  it('refuses CR/LF, DATA and BDAT before writing, and stays usable', async () => {
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING']);
      await answerOneByOne(c, simpleAnswer, { overlap: false });
    });
    const session = await open(server);
    for (const bad of [
      ['RCPT TO:<a@d.test>\r\nDATA'],
      ['DATA'],
      ['data'],
      [' Data'],
      ['BDAT 100 LAST'],
      [mailFrom('bounce@probe.example.org'), 'RCPT TO:<a@d.test>\nRSET'],
      ['STARTTLS'],
      ['NOOP\0'],
    ]) {
      const err = await rejection(session.exchange(bad));
      expect(err.code).toBe('SMTP_UNSAFE_INPUT');
      expect((err as SmtpExchangeError).answered).toEqual([]);
    }
    expect(() => rcptTo('a@d.test>\r\nDATA')).toThrow();
    expect(session.closed).toBe(false);
    const replies = await session.exchange([rset()]);
    expect(replies[0]?.code).toBe(250);
    await session.quit();
    expect(server.connections[0]?.lines).toEqual(['EHLO probe.example.org', 'RSET', 'QUIT']);
  });
});

describe('SmtpSession: replies out of step with the commands (issue 12)', () => {
  /** Greets with PIPELINING, then hands each group of lines (what arrived together) to `answer`. */
  function pipelinedServer(answer: (c: ScriptedConnection, group: string[]) => Promise<void> | void): Promise<ScriptedSmtpServer> {
    return serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING']);
      for (;;) {
        const first = await c.readLine(2_000);
        if (first === null) return;
        await sleep(20); // the rest of the group
        const group = [first];
        while (c.unread() > 0) group.push((await c.readLine())!);
        if (group.length === 1 && /^QUIT/.test(first)) {
          c.send('221 2.0.0 Bye\r\n');
          c.end();
          return;
        }
        await answer(c, group);
      }
    });
  }
  /** Postfix's answers: MAIL 2.1.0, RCPT 2.1.5 or 5.1.1 with the address echoed, RSET 2.0.0. */
  const postfix = (line: string): string => {
    if (/^MAIL/.test(line)) return '250 2.1.0 Ok\r\n';
    if (/^RSET/.test(line)) return '250 2.0.0 Ok\r\n';
    if (/^QUIT/.test(line)) return '221 2.0.0 Bye\r\n';
    const address = /<(.*)>/.exec(line)?.[1] ?? '';
    return address.startsWith('no') ? `550 5.1.1 <${address}>: Recipient address rejected: User unknown in local recipient table\r\n` : '250 2.1.5 Ok\r\n';
  };
  const GROUP = [mailFrom('bounce@probe.example.org'), rcptTo('yes1@d.test'), rcptTo('no2@d.test'), rcptTo('yes3@d.test'), rcptTo('no4@d.test')];

  it('a skipped reply: fewer replies than commands before the timeout is out of step, not a timeout', async () => {
    // Without the echo (Gmail, Office 365 answer so), only the count tells.
    const server = await pipelinedServer((c, group) => {
      c.send(group.filter((_, i) => i !== 2).map((line) => postfix(line).replace(/<[^>]*>: /, '')).join(''));
    });
    const session = await open(server);
    const err = await rejection(session.exchange(GROUP));
    expect(err.code).toBe('SMTP_DESYNC');
    expect(err.message).toMatch(/only 4 of 5 replies to a pipelined group arrived within 400 ms/);
  });

  it('a reply sent twice in one write: the group is never answered', async () => {
    const server = await pipelinedServer((c, group) => {
      c.send(group.map((line, i) => (i === 1 ? postfix(line) + postfix(line) : postfix(line))).join(''));
    });
    const session = await open(server);
    const err = await rejection(session.exchange(GROUP));
    expect(err.code).toBe('SMTP_DESYNC');
    expect(session.closed).toBe(true);
  });

  it('a reply sent twice, the copy a moment later: the session dies before anything else is matched to it', async () => {
    // No echo: the copy is told only by being one reply too many.
    const server = await pipelinedServer(async (c, group) => {
      c.send(group.map((line) => postfix(line).replace(/<[^>]*>: /, '')).join(''));
      await sleep(10);
      c.send('250 2.1.5 Ok\r\n');
    });
    const session = await open(server);
    await session.exchange(GROUP);
    // What the pool does before it counts a window as final and idles: the late copy shows itself.
    await session.settle();
    expect(session.closeReason?.code).toBe('SMTP_DESYNC');
    const err = await rejection(session.exchange([rset()]));
    expect(err.code).toBe('SMTP_DESYNC');
  });

  it('replies out of order, told by the address the server echoes', async () => {
    const server = await pipelinedServer((c, group) => {
      const replies = group.map(postfix);
      [replies[2], replies[4]] = [replies[4]!, replies[2]!];
      c.send(replies.join(''));
    });
    const session = await open(server);
    const err = await rejection(session.exchange(GROUP));
    expect(err.code).toBe('SMTP_DESYNC');
    expect(err.message).toMatch(/echoes <no4@d\.test>, but came for RCPT TO:<no2@d\.test>/);
  });

  it("a DATA-style 354, a RCPT's 2.1.5 for MAIL, a MAIL's 2.1.0 for RCPT: each is out of step", async () => {
    const cases: Array<[(group: string[]) => string, RegExp]> = [
      [(group) => group.map((l, i) => (i === 3 ? '354 End data with <CR><LF>.<CR><LF>\r\n' : postfix(l))).join(''), /"354 End data.*intermediate reply/],
      [(group) => ['250 2.1.5 Ok\r\n', ...group.slice(1).map(postfix)].join(''), /is a recipient's reply \(2\.1\.5\), but came for MAIL FROM/],
      [(group) => [postfix(group[0]!), '250 2.1.0 Ok\r\n', ...group.slice(2).map(postfix)].join(''), /repeats the reply to MAIL FROM, but came for RCPT TO/],
    ];
    for (const [replies, message] of cases) {
      const server = await pipelinedServer((c, group) => c.send(replies(group)));
      const session = await open(server);
      const err = await rejection(session.exchange(GROUP));
      expect(err.code).toBe('SMTP_DESYNC');
      expect(err.message).toMatch(message);
    }
  });

  it('with pipelining off, sends one command at a time even to a server that advertises PIPELINING', async () => {
    const state = { overlap: false };
    const server = await serve(async (c) => {
      await greetAndEhlo(c, ['PIPELINING']);
      await answerOneByOne(c, simpleAnswer, state);
    });
    const session = await open(server, { pipelining: false });
    expect(session.supportsPipelining).toBe(false);
    const replies = await session.exchange([mailFrom('bounce@probe.example.org'), rcptTo('a@d.test'), rcptTo('nobody@d.test')]);
    expect(replies.map((r) => r.code)).toEqual([250, 250, 550]);
    await session.quit();
    expect(state.overlap).toBe(false);
  });
});

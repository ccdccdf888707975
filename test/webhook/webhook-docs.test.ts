/**
 * The verify helpers users copy from docs/webhooks.md (Node and Python) agree with what we send:
 * each snippet is taken from the document as written and run against signatures made by our
 * signer — a fresh one passes, a replay with a fresh `t`, an old one, a tampered body and a wrong
 * secret fail.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { signWebhookDelivery } from '../../src/webhook/webhook-signature.ts';

const DOC = path.resolve(import.meta.dirname, '../../docs/webhooks.md');
const SECRET = 'docs-secret-0123456789';
const BODY = '{"event":"list.completed","listId":"0123abcd","rows":3}';
const NOW = 1_800_000_000;

/** The first fenced block of `lang` that contains `marker`. */
async function snippet(lang: string, marker: string): Promise<string> {
  const text = await readFile(DOC, 'utf8');
  const blocks = [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
  const found = blocks.find((b) => b.includes(marker));
  if (!found) throw new Error(`no ${lang} block with ${marker} in ${DOC}`);
  return found;
}

const cases = (): Array<[string, string, string, number, boolean]> => {
  const fresh = signWebhookDelivery(SECRET, BODY, NOW);
  const v1 = fresh.split('v1=')[1]!;
  return [
    ['fresh', BODY, fresh, NOW + 10, true],
    ['replay with a fresh t', BODY, `t=${NOW + 3600},v1=${v1}`, NOW + 3600, false],
    ['old', BODY, fresh, NOW + 301, false],
    ['tampered body', BODY.replace('3', '4'), fresh, NOW, false],
    ['other secret', BODY, signWebhookDelivery('another-secret-0123456789', BODY, NOW), NOW, false],
    ['no header', BODY, '', NOW, false],
  ];
};

describe('docs/webhooks.md verify helpers', () => {
  it('the Node.js helper', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-docs-'));
    try {
      const file = path.join(dir, 'verify.mjs');
      await writeFile(file, await snippet('js', 'export function verifyHygieneWebhook'));
      const mod = (await import(pathToFileURL(file).href)) as { verifyHygieneWebhook: (s: string, b: Buffer, h: string, tol?: number, now?: number) => boolean };
      for (const [name, body, header, now, ok] of cases()) {
        expect(mod.verifyHygieneWebhook(SECRET, Buffer.from(body), header, 300, now), name).toBe(ok);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the Python helper', async () => {
    let python = '';
    try {
      python = execFileSync('python3', ['-c', 'print("ok")']).toString().trim();
    } catch {
      console.warn('[webhook-docs] python3 not found: the Python snippet is not checked');
      return;
    }
    expect(python).toBe('ok');
    const code = `${await snippet('python', 'def verify_hygiene_webhook')}
import json, sys
for body, header, now in json.loads(sys.stdin.read()):
    print("1" if verify_hygiene_webhook(${JSON.stringify(SECRET)}.encode(), body.encode(), header, 300, now) else "0")
`;
    const input = JSON.stringify(cases().map(([, body, header, now]) => [body, header, now]));
    const out = execFileSync('python3', ['-c', code], { input }).toString().trim().split('\n');
    expect(out).toEqual(cases().map(([, , , , ok]) => (ok ? '1' : '0')));
  });
});

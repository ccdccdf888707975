/**
 * The HTML report as a person sees it: a real list run against the simulated mail world (demo world
 * and contacts), the report rendered in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core), its visible text checked, a screenshot taken, and no request leaving the file.
 * Skips, saying why, when Chromium is not installed (.ci/run installs it).
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HygieneRuntime } from '../../src/app/runtime.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { isStatus } from '../../src/domain/verdict.ts';
import { escapeHtml, htmlReportPath, renderHtmlReport } from '../../src/report/html-report.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import { deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[html-report] ${CHROMIUM} not found: the browser checks are skipped (apt-get install -y chromium).`);

function baseReport(over: Partial<ListReport> = {}): ListReport {
  return {
    listId: 'abc',
    input: '/data/in/contacts.csv',
    outputs: { cleaned: '/data/out/contacts.cleaned.csv', rejected: '/data/out/contacts.rejected.csv', report: '/data/out/contacts.report.json' },
    emailColumn: { index: 0, name: 'email' },
    dialect: { delimiter: ',', encoding: 'utf-8', lineEnding: '\n', hasHeader: true },
    rejectPolicy: 'undeliverable,duplicate',
    rows: 3,
    cleanedRows: 2,
    rejectedRows: 1,
    uniqueAddresses: 3,
    counts: { byStatus: { deliverable: 2, undeliverable: 1 }, byReason: { accepted: 2, mailbox_not_found: 1 } },
    cache: { hits: 0, probed: 3 },
    mx: [],
    topDomains: [],
    timings: { createdAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:02.000Z', totalMs: 2000, collectMs: 5 },
    ...over,
  } as ListReport;
}

describe('renderHtmlReport (pure)', () => {
  it('escapes everything that came from the input: domain, MX and column names', () => {
    const html = renderHtmlReport(
      baseReport({
        emailColumn: { index: 0, name: '<img src=x onerror=alert(1)>' },
        topDomains: [{ domain: '<script>alert(1)</script>.test', rows: 1, byStatus: { deliverable: 1 } }],
        mx: [{ mx: 'mx"><svg onload=alert(1)>', sessions: 1, rcpts: 1, reconnects: 0, repliesByCode: { '250': 1 }, durationMs: 3 }],
      }),
    );
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<svg onload');
    expect(html).toContain(escapeHtml('<script>alert(1)</script>.test'));
  });

  it('is self-contained: no external URL, and a CSP that forbids loading anything', () => {
    const html = renderHtmlReport(baseReport());
    expect(html).toContain(`Content-Security-Policy" content="default-src 'none'`);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script/i);
  });

  it('names the file after the list: <name>.report.html beside report.json', () => {
    expect(htmlReportPath(baseReport())).toBe('/data/out/contacts.report.html');
  });
});

describe('HTML report of a real run, seen in Chromium', () => {
  let world: MailWorld;
  let runtime: HygieneRuntime;
  let prefix: string;
  let out: ListOutputs;
  let dir: string;

  beforeAll(async () => {
    world = await startMailWorld(await loadWorldSpecFile(path.join(ROOT, 'samples/world.json')));
    prefix = uniquePrefix('htmlreport');
    runtime = await startRuntime(worldConfig(world, prefix));
    dir = await tempDir('htmlreport');
    out = await runList(runtime, path.join(ROOT, 'samples/contacts.csv'), dir, { emailHeader: 'E-mail Address' });
  });
  afterAll(async () => {
    await runtime?.close();
    await world?.stop();
    await deletePrefix(prefix);
  });

  it('writes contacts.report.html beside the CSVs, with per-domain counts in report.json', async () => {
    const html = path.join(dir, 'contacts.report.html');
    expect((await stat(html)).size).toBeGreaterThan(2_000);
    const acme = out.report.topDomains?.find((d) => d.domain === 'acme.test');
    expect(acme?.rows).toBeGreaterThan(0);
    const text = await readFile(html, 'utf8');
    expect(text).toContain('acme.test');
    expect(text).toContain('mx1.mailhost.test');
  });

  it.skipIf(!haveChromium)('shows the counts, reasons, domains and MX hosts to a person, offline', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const url = pathToFileURL(path.join(dir, 'contacts.report.html')).href;
      await page.goto(url);
      const report = out.report;
      const visible = await page.locator('body').innerText();

      expect(await page.title()).toBe('List hygiene report: contacts');
      // Headline numbers, as shown on the cards.
      expect(await page.locator('[data-card="rows"] .value').innerText()).toBe(String(report.rows));
      expect(await page.locator('[data-card="cleaned"] .value').innerText()).toBe(String(report.cleanedRows));
      expect(await page.locator('[data-card="rejected"] .value').innerText()).toBe(String(report.rejectedRows));
      // Every row once in the legend (issue 16): each status's verified rows, and the duplicate (and any
      // other row-level outcome with rows) on its own line, so the headline matches the files.
      const byOutcome = report.counts.byOutcome!;
      expect(byOutcome.duplicate).toBeGreaterThan(0);
      for (const [outcome, n] of Object.entries(byOutcome)) {
        const item = page.locator(`li[data-outcome="${outcome}"] .status-count`);
        if (n === 0 && !isStatus(outcome)) expect(await item.count()).toBe(0);
        else expect(await item.innerText()).toBe(String(n));
      }
      const legendTotal = (await page.locator('li[data-outcome] .status-count').allInnerTexts()).reduce((sum, t) => sum + Number(t), 0);
      expect(legendTotal).toBe(report.rows);
      // Where each outcome's rows went, as in the files.
      const kept = out.cleaned.filter((r) => r.hygiene_status === 'deliverable').length;
      expect(await page.locator('#outcome-files tr[data-outcome="deliverable"] td').nth(2).innerText()).toBe(String(kept));
      expect(await page.locator('#outcome-files tr[data-outcome="duplicate"] td').nth(3).innerText()).toBe(String(out.rejected.filter((r) => r.hygiene_reason === 'duplicate').length));
      // Every reason and its count is drawn in the chart.
      const chart = await page.locator('#reasons svg').textContent();
      for (const [reason, n] of Object.entries(report.counts.byReason)) {
        expect(chart).toContain(reason);
        expect(chart).toContain(`${n} (`);
      }
      expect(visible).toContain('mailbox_not_found');
      // Top domains and mail servers, with the sessions/RCPTs of one MX.
      expect(visible).toContain('acme.test');
      const mx1 = report.mx.find((m) => m.mx === 'mx1.mailhost.test')!;
      const mxRow = await page.locator('#mx tr', { hasText: 'mx1.mailhost.test' }).innerText();
      expect(mxRow).toContain(String(mx1.sessions));
      expect(mxRow).toContain(String(mx1.rcpts));
      expect(visible).toContain('Timings');
      // Charts are real boxes on screen, not empty.
      const bar = await page.locator('#status svg.bar').boundingBox();
      expect(bar?.width).toBeGreaterThan(500);
      // Nothing but the file itself was requested.
      expect(requests.filter((r) => !r.startsWith('file:'))).toEqual([]);

      const shot = path.join(dir, 'contacts.report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect((await stat(shot)).size).toBeGreaterThan(10_000);
      if (process.env.HYGIENE_KEEP_SCREENSHOT) console.log(`[html-report] screenshot: ${shot}`);
    } finally {
      await browser.close();
    }
  });
});

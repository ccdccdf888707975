/**
 * RFC 3464 delivery status notifications: finds the message/delivery-status part (also RFC 6533
 * message/global-delivery-status) of a bounce message and returns one BounceEvent per recipient
 * group. Pure. Accepts a single message or an mbox of several ("From " separator lines).
 *
 * Per-recipient fields used (RFC 3464 §2.3): Final-Recipient (Original-Recipient when absent),
 * Action (failed → judged by Status, then by Diagnostic-Code; delayed → soft; delivered, relayed,
 * expanded → no bounce), Status, Diagnostic-Code.
 */
import { cleanText, kindOfReply, kindOfStatus, type BounceEvent } from './bounce-event.ts';

interface MimePart {
  headers: Map<string, string>;
  body: string;
}

/** Nested multiparts deeper than this are not followed (hostile input). */
const MAX_DEPTH = 5;

export function parseDsnMessages(text: string): BounceEvent[] {
  const normalised = text.replace(/\r\n?/g, '\n');
  const messages = /^From \S/.test(normalised) ? normalised.split(/\n(?=From \S)/).map((m) => m.replace(/^From [^\n]*\n/, '')) : [normalised];
  return messages.flatMap((m) => eventsOfPart(parsePart(m), 0));
}

function parsePart(text: string): MimePart {
  const cut = text.search(/\n\n/);
  const head = cut === -1 ? text : text.slice(0, cut);
  const body = cut === -1 ? '' : text.slice(cut + 2);
  return { headers: parseFields(head), body };
}

/** Header or DSN field block: unfolds continuation lines (RFC 5322 §2.2.3); first field wins. */
function parseFields(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of block.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  return fields;
}

function contentType(part: MimePart): { type: string; boundary?: string } {
  const raw = part.headers.get('content-type') ?? 'text/plain';
  const type = raw.split(';')[0]?.trim().toLowerCase() ?? 'text/plain';
  const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(raw);
  return { type, boundary: boundary?.[1] ?? boundary?.[2] };
}

function decodeBody(part: MimePart): string {
  const encoding = (part.headers.get('content-transfer-encoding') ?? '').toLowerCase();
  if (encoding === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString('utf8').replace(/\r\n?/g, '\n');
  if (encoding === 'quoted-printable') {
    return part.body.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return part.body;
}

function eventsOfPart(part: MimePart, depth: number): BounceEvent[] {
  const { type, boundary } = contentType(part);
  if (type === 'message/delivery-status' || type === 'message/global-delivery-status') return eventsOfStatus(decodeBody(part));
  if (type.startsWith('multipart/') && boundary && depth < MAX_DEPTH) {
    const marker = `--${boundary}`;
    const sections = part.body.split('\n').reduce<string[][]>(
      (acc, line) => {
        if (line.trimEnd() === marker || line.trimEnd() === `${marker}--`) acc.push([]);
        else acc[acc.length - 1]?.push(line);
        return acc;
      },
      [[]],
    );
    // The first section is the preamble; anything after the closing marker is the epilogue.
    return sections.slice(1).flatMap((lines) => eventsOfPart(parsePart(lines.join('\n')), depth + 1));
  }
  return [];
}

function eventsOfStatus(text: string): BounceEvent[] {
  const groups = text.split(/\n\s*\n/).map(parseFields);
  const events: BounceEvent[] = [];
  // The first group holds per-message fields (Reporting-MTA...); recipient groups follow.
  for (const fields of groups.slice(1)) {
    const recipientField = fields.get('final-recipient') ?? fields.get('original-recipient');
    if (!recipientField) continue;
    const recipient = (recipientField.includes(';') ? recipientField.slice(recipientField.indexOf(';') + 1) : recipientField).trim().replace(/^<|>$/g, '');
    const action = (fields.get('action') ?? '').toLowerCase().split(/\s/)[0];
    const status = /^\d\.\d{1,3}\.\d{1,3}/.exec(fields.get('status') ?? '')?.[0];
    const diagnosticRaw = fields.get('diagnostic-code') ?? '';
    const diagnostic = cleanText(diagnosticRaw.replace(/^[\w-]+;\s*/, ''));
    if (action === 'delayed') events.push({ recipient, kind: 'soft', status, diagnostic, source: 'dsn' });
    else if (action === 'failed') events.push({ recipient, kind: kindOfStatus(status) ?? kindOfReply(diagnostic), status, diagnostic, source: 'dsn' });
  }
  return events;
}

/**
 * The allow-list policy for webhook targets (server-side request forgery guard): http(s) only, and
 * no loopback, private, link-local, CGNAT, multicast or reserved address (the classification is
 * domain/special-address.ts, shared with the API's MX policy) — checked for EVERY address the host
 * name resolves to, at submission and again at connect time (the delivery's own DNS lookup
 * goes through `checkedLookup`, so a name that re-resolves to 127.0.0.1 later is still refused).
 * HYGIENE_WEBHOOK_ALLOW_PRIVATE=true turns the address check off (tests, private networks).
 */
import dns from 'node:dns';
import net from 'node:net';
import { isSpecialPurposeAddress } from '../domain/special-address.ts';
import { HygieneError } from '../errors.ts';

export type HostLookup = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface WebhookUrlPolicy {
  allowPrivate: boolean;
  /** Resolves a host name to every address (default: dns.promises.lookup with all: true). */
  lookup?: HostLookup;
}

/** True for addresses a webhook may not target (the shared special-purpose classification). */
export const isPrivateAddress = isSpecialPurposeAddress;

const defaultLookup: HostLookup = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

function refuse(message: string, url: string): HygieneError {
  return new HygieneError('WEBHOOK_URL_REFUSED', message, { url });
}

/** Parses and checks a webhook URL; throws HygieneError('WEBHOOK_URL_REFUSED') with the reason. */
export async function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('The webhook URL is not a valid absolute URL.', raw);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('The webhook URL must use http or https.', raw);
  if (url.username || url.password) throw refuse('The webhook URL must not carry credentials; the payload is signed instead.', raw);
  if (policy.allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A name that does not resolve has no address to refuse; the delivery fails on its own later.
  const addresses = net.isIP(host) ? [host] : (await (policy.lookup ?? defaultLookup)(host).catch(() => [])).map((a) => a.address);
  if (addresses.length === 0) throw refuse(`The webhook host ${host} does not resolve.`, raw);
  const blocked = addresses.find(isPrivateAddress);
  if (blocked) throw refuse(`The webhook host ${host} resolves to ${blocked}, a loopback, private or reserved address (set HYGIENE_WEBHOOK_ALLOW_PRIVATE=true to allow it).`, raw);
  return url;
}

/**
 * A `lookup` for http.request that refuses private addresses at connect time (closes the gap of a
 * name that resolved to a public address when checked and to a private one when delivered).
 */
export function checkedLookup(policy: WebhookUrlPolicy): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as dns.LookupAddress[];
      const allowed = policy.allowPrivate ? list : list.filter((a) => !isPrivateAddress(a.address));
      if (allowed.length === 0 || allowed.length !== list.length) {
        return callback(refuse(`The webhook host ${hostname} resolves to a private or reserved address.`, hostname), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, allowed);
      const first = allowed[0] as dns.LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

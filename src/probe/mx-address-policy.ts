/**
 * The HTTP API's MX policy (VerifyBatch.refusePrivateMx): an MX host with any loopback, private,
 * link-local or other special-purpose address is not probed, so nobody can point a domain of
 * theirs at 127.0.0.1 or 10.0.0.5 and use our API to scan internal mail servers. One such address
 * is enough to drop the host (as for webhook targets): a name that mixes public and private
 * addresses is not one we connect to on a stranger's behalf.
 *
 * A refusal is our policy, not a fact about the address: its verdict (unknown/mx_not_allowed) and
 * any verdict reached with some hosts dropped are never written to the shared verdict cache, so a
 * CLI run of the same address later still probes every MX DNS gives.
 */
import { isSpecialPurposeAddress } from '../domain/special-address.ts';
import { makeVerdict, type Verdict } from '../domain/verdict.ts';
import type { MxHost } from '../dns/mx-resolver.ts';

/** The hosts the policy lets us probe, in the order given. */
export function allowedMxHosts(hosts: readonly MxHost[]): MxHost[] {
  return hosts.filter((host) => !host.addresses.some(isSpecialPurposeAddress));
}

/** The verdict when every MX host of the domain was refused. */
export function mxNotAllowedVerdict(domain: string, hosts: readonly MxHost[], at: Date): Verdict {
  const first = hosts[0];
  const example = first ? ` (${first.exchange} is ${first.addresses.find(isSpecialPurposeAddress) ?? 'without an address'})` : '';
  return makeVerdict(
    'unknown',
    'mx_not_allowed',
    `Every mail server of ${domain} is on a loopback, private or reserved address${example}; the API does not probe those (HYGIENE_API_ALLOW_PRIVATE_MX=true allows it).`,
    at,
    first ? { mx: first.exchange } : {},
  );
}

/**
 * The default EHLO name when HYGIENE_HELO_NAME is not set: this host's name, but only when it is a
 * public fully qualified domain name. Containers and VMs usually have a single-label name ("vm", a
 * container id); then the FQDN the system knows for it is tried, the way `hostname -f` finds it: the
 * canonical name (first name) of the /etc/hosts line that lists the short name. Names that only
 * mean something on this network (*.local, *.internal, *.lan, *.localdomain...) are never a default:
 * a receiving server cannot resolve them, so it would refuse or tarpit us.
 *
 * The source of names is injected (HostNameSource) so tests can play any machine; the real one
 * reads os.hostname() and /etc/hosts. Synchronous on purpose: configuration is loaded once, at
 * start-up, before anything else runs, and reading one small local file is all it takes.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseHeloName, type HeloName } from './setting-values.ts';

export interface HostNameSource {
  /** The kernel's host name (os.hostname()). */
  hostname(): string;
  /** The text of the hosts file (/etc/hosts), or null when there is none. */
  hostsFile(): string | null;
}

export const systemHostNames: HostNameSource = {
  hostname: () => os.hostname(),
  hostsFile: () => {
    try {
      return readFileSync('/etc/hosts', 'utf8');
    } catch {
      return null;
    }
  },
};

export interface DefaultHeloName {
  /** The name to use, or null when the system knows no public FQDN for itself. */
  name: HeloName | null;
  /** The kernel's host name, for messages. */
  hostname: string;
  /** Where `name` came from. */
  source: 'hostname' | 'hosts-file' | null;
}

/** Suffixes of names that are never resolvable from the Internet (RFC 6761, RFC 6762, RFC 8375, common private zones). */
const PRIVATE_SUFFIX = /(?:^|\.)(?:local|localhost|localdomain|internal|intranet|private|lan|home|home\.arpa|invalid|corp)$/i;

/** A name a remote mail server could resolve: a valid HELO name that is not a private-zone name. */
function isPublicFqdn(name: string): name is HeloName {
  return parseHeloName(name).ok && !name.startsWith('[') && !PRIVATE_SUFFIX.test(name);
}

export function defaultHeloName(source: HostNameSource): DefaultHeloName {
  const hostname = source.hostname().trim().replace(/\.$/, '');
  if (isPublicFqdn(hostname)) return { name: hostname, hostname, source: 'hostname' };
  const short = hostname.split('.')[0]?.toLowerCase() ?? '';
  const text = source.hostsFile();
  if (short !== '' && text !== null) {
    for (const line of text.split('\n')) {
      const [, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
      // The line must name this host, by its short or its full name.
      if (!names.some((n) => n.toLowerCase() === short || n.toLowerCase() === hostname.toLowerCase())) continue;
      // Canonical name first (what `hostname -f` prints), then any alias of the form short.domain.
      const candidate = names.map((n) => n.replace(/\.$/, '')).find((n) => n.toLowerCase().startsWith(`${short}.`) && isPublicFqdn(n));
      if (candidate !== undefined) return { name: candidate as HeloName, hostname, source: 'hosts-file' };
    }
  }
  return { name: null, hostname, source: null };
}

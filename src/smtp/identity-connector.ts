/**
 * The connector of an outbound identity (config/outbound-identities.ts): a SOCKS5 proxy's, or direct
 * TCP from its local address (or from wherever the system routes, for `direct`).
 */
import type { OutboundIdentity } from '../config/outbound-identities.ts';
import { directConnector, type SmtpConnector } from './smtp-connector.ts';
import { socks5Connector, type Socks5ConnectorOptions } from './socks5-connector.ts';

export function connectorFor(identity: OutboundIdentity, options: Socks5ConnectorOptions = {}): SmtpConnector {
  if (identity.kind === 'socks5' && identity.proxy) return socks5Connector(identity.proxy, options);
  return directConnector(identity.localAddress);
}

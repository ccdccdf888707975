/**
 * How far a SOCKS5 handshake got, read from the proxy's bytes alone. The `socks` library does the
 * handshake; its errors are sentences, and its timeout does not say whether the proxy or the MX
 * behind it kept us waiting. Which one failed decides whose fault it is: a proxy that never answers
 * its greeting is ours, a CONNECT still pending is the MX not answering through it. So the connector
 * watches the proxy's reply fields as they arrive (without consuming them) and asks this function.
 *
 * RFC 1928 §3: the method selection is VER(5) METHOD (0 none, 2 user/password, 0xFF none acceptable).
 * RFC 1929 §2: the user/password reply is VER(1) STATUS (0 success). RFC 1928 §6: the reply to our
 * CONNECT request starts VER(5) REP (0 succeeded, 1 general failure, 2 not allowed by ruleset,
 * 3 network unreachable, 4 host unreachable, 5 connection refused, 6 TTL expired, 7 command not
 * supported, 8 address type not supported). Pure.
 */

export type Socks5Stage =
  /** Waiting for the method selection (the proxy has said nothing yet). */
  | 'greeting'
  /** It chose user/password: waiting for the answer to our credentials (or they were refused). */
  | 'auth'
  /** Our CONNECT request went out: the proxy is connecting to the MX for us. */
  | 'request'
  /** The proxy answered the CONNECT (see `reply`). */
  | 'replied';

export interface Socks5Progress {
  stage: Socks5Stage;
  /** Its first byte is not 5: whatever answers there is not a SOCKS5 proxy. */
  notSocks5: boolean;
  /** The method it chose (0xFF: none of ours is acceptable); set at stage 'greeting' only when it is neither 0 nor 2. */
  method?: number;
  /** The user/password status (0 accepted). */
  authStatus?: number;
  /** REP of the CONNECT reply. */
  reply?: number;
}

/** The progress after the proxy sent `bytes` (everything it sent so far, in order). */
export function readSocks5Progress(bytes: Uint8Array): Socks5Progress {
  if (bytes.length < 2) return { stage: 'greeting', notSocks5: bytes.length > 0 && bytes[0] !== 5 };
  const [version, method] = [bytes[0], bytes[1]];
  if (version !== 5) return { stage: 'greeting', notSocks5: true };
  // 0xFF (none acceptable), or a method we did not offer (GSSAPI...): the handshake stops here.
  if (method !== 0 && method !== 2) return { stage: 'greeting', notSocks5: false, method };
  let at = 2;
  let authStatus: number | undefined;
  if (method === 2) {
    if (bytes.length < at + 2) return { stage: 'auth', notSocks5: false, method };
    authStatus = bytes[at + 1];
    if (authStatus !== 0) return { stage: 'auth', notSocks5: false, method, authStatus };
    at += 2;
  }
  if (bytes.length < at + 2) return { stage: 'request', notSocks5: false, method, authStatus };
  return { stage: 'replied', notSocks5: bytes[at] !== 5, method, authStatus, reply: bytes[at + 1] };
}

/** RFC 1928 §6 REP values, as the proxy means them. */
export const SOCKS5_REPLY_TEXT: Readonly<Record<number, string>> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by its ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

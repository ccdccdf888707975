/** One complete SMTP reply (RFC 5321 §4.2), possibly multi-line. Pure value type. */
export interface SmtpReply {
  /** Three-digit basic code, e.g. 550. */
  code: number;
  /** RFC 3463 enhanced status code when the server sent one, e.g. "5.1.1". */
  enhanced?: string;
  /** Text of every line with the code (and enhanced code) stripped, in order. */
  lines: string[];
  /** The reply as the server sent it, lines joined by "\n" (code included), for reports. */
  raw: string;
}

/** The SMTP commands whose replies we classify. */
export type SmtpCommand = 'CONNECT' | 'EHLO' | 'HELO' | 'STARTTLS' | 'MAIL' | 'RCPT' | 'RSET' | 'QUIT';

/** The reply as one line for output files: "550 5.1.1 <x@d>: Recipient address rejected: ...". */
export function replyToText(reply: SmtpReply): string {
  return reply.raw.replace(/\r?\n/g, ' | ');
}

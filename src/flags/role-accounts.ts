/**
 * Role accounts: local parts that name a function, not a person (RFC 2142 mailbox names and the
 * usual business ones). Mail to them reaches a team or a ticket system, often many people, and they
 * complain more: worth a flag, not a rejection.
 */

const ROLE_LOCAL_PARTS = new Set([
  // RFC 2142
  'info', 'marketing', 'sales', 'support', 'abuse', 'noc', 'security', 'postmaster', 'hostmaster', 'usenet', 'news', 'webmaster', 'www', 'uucp', 'ftp',
  // common business roles
  'admin', 'administrator', 'root', 'sysadmin', 'office', 'contact', 'contacts', 'hello', 'hi', 'help', 'helpdesk', 'service', 'services',
  'customerservice', 'customer.service', 'customercare', 'care', 'team', 'staff', 'all', 'everyone', 'enquiries', 'enquiry', 'inquiries', 'inquiry',
  'billing', 'accounts', 'accounting', 'finance', 'invoice', 'invoices', 'payments', 'orders', 'order', 'shop', 'store',
  'hr', 'jobs', 'careers', 'recruiting', 'recruitment', 'press', 'media', 'pr', 'legal', 'compliance', 'privacy', 'dpo', 'gdpr',
  'it', 'tech', 'dev', 'devnull', 'feedback', 'newsletter', 'list', 'lists', 'mail', 'email', 'mailer-daemon',
  'noreply', 'no-reply', 'no_reply', 'donotreply', 'do-not-reply', 'do_not_reply', 'reply', 'bounce', 'bounces',
  'reception', 'frontdesk', 'management', 'manager', 'director', 'ceo', 'partners', 'partner', 'events', 'registrar', 'registration', 'booking', 'bookings', 'reservations',
]);

/** `local` as written; compared lower-case, ignoring a "+tag" sub-address. */
export function isRoleAccount(local: string): boolean {
  // Cut at the first '+' before lower-casing (no array per call: this runs once per output row).
  const plus = local.indexOf('+');
  return ROLE_LOCAL_PARTS.has((plus < 0 ? local : local.slice(0, plus)).toLowerCase());
}

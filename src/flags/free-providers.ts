/**
 * Free (consumer) mailbox providers. A curated list, not a database: the big webmail brands and their
 * country variants. `yahoo.*`-style families are matched by their first label.
 */

const FREE_DOMAINS = new Set([
  'gmail.com', 'googlemail.com',
  'outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'passport.com',
  'aol.com', 'aim.com',
  'icloud.com', 'me.com', 'mac.com',
  'web.de', 'freenet.de', 't-online.de',
  'mail.ru', 'bk.ru', 'inbox.ru', 'list.ru', 'rambler.ru',
  'proton.me', 'protonmail.com', 'protonmail.ch', 'pm.me',
  'zoho.com', 'zohomail.com',
  'tutanota.com', 'tutanota.de', 'tuta.io', 'tutamail.com',
  'fastmail.com', 'fastmail.fm',
  'mail.com', 'email.com', 'usa.com', 'inbox.com',
  'hushmail.com', 'runbox.com', 'posteo.de', 'mailbox.org',
  'qq.com', '163.com', '126.com', 'yeah.net', 'sina.com', 'sohu.com',
  'naver.com', 'daum.net', 'hanmail.net',
  'rediffmail.com', 'libero.it', 'virgilio.it', 'tiscali.it',
  'orange.fr', 'wanadoo.fr', 'free.fr', 'laposte.net', 'sfr.fr',
  'seznam.cz', 'wp.pl', 'o2.pl', 'interia.pl', 'onet.pl',
  'bigpond.com', 'optusnet.com.au',
  'comcast.net', 'verizon.net', 'att.net', 'sbcglobal.net', 'cox.net', 'charter.net', 'earthlink.net',
  'btinternet.com', 'sky.com', 'virginmedia.com', 'ntlworld.com', 'talktalk.net',
  'shaw.ca', 'rogers.com', 'sympatico.ca',
  'uol.com.br', 'bol.com.br', 'terra.com.br',
]);

/** Brands whose every country domain is free webmail: yahoo.co.uk, hotmail.fr, gmx.net, yandex.ru... */
const FREE_FAMILIES = new Set(['yahoo', 'ymail', 'rocketmail', 'hotmail', 'outlook', 'live', 'windowslive', 'gmx', 'yandex', 'ya', 'aol']);

/** Country-code and generic endings a family domain may have: com, de, co.uk, com.br... */
const FAMILY_SUFFIX = /^(com|net|org|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})$/;

/** `domain` is a lower-case A-label. */
export function isFreeProvider(domain: string): boolean {
  if (FREE_DOMAINS.has(domain)) return true;
  const dot = domain.indexOf('.');
  if (dot <= 0) return false;
  return FREE_FAMILIES.has(domain.slice(0, dot)) && FAMILY_SUFFIX.test(domain.slice(dot + 1));
}

/** First labels of every free provider and family (gmail, hotmail, yahoo, ...), for typo pre-checks. */
export const FREE_PROVIDER_LABELS: ReadonlySet<string> = new Set([...[...FREE_DOMAINS].map((d) => d.slice(0, d.indexOf('.'))), ...FREE_FAMILIES]);

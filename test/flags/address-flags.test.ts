/** Flags and suggestions as pure functions: role, free, disposable, domain typos, one-edit local parts. */
import { describe, expect, it } from 'vitest';
import { flagAddress, formatFlags, suggestDomain } from '../../src/flags/address-flags.ts';
import { createAddressAnnotator } from '../../src/flags/address-annotator.ts';
import { DeliverableIndex } from '../../src/flags/deliverable-index.ts';
import { isDisposableDomain } from '../../src/flags/disposable-domains.ts';
import { isFreeProvider } from '../../src/flags/free-providers.ts';
import { isOneEditApart, suggestLocalPart } from '../../src/flags/local-part-suggestion.ts';
import { isRoleAccount } from '../../src/flags/role-accounts.ts';
import type { Verdict } from '../../src/domain/verdict.ts';

const at = '2026-01-01T00:00:00.000Z';
const verdict = (status: Verdict['status'], reason: Verdict['reason']): Verdict => ({ status, reason, detail: '', checkedAt: at });

describe('flags', () => {
  it('knows role accounts, ignoring case and +tags', () => {
    for (const local of ['info', 'Admin', 'sales', 'support', 'noreply', 'no-reply', 'postmaster', 'abuse', 'billing+eu']) expect(isRoleAccount(local), local).toBe(true);
    for (const local of ['john.doe', 'infoman', 'jane']) expect(isRoleAccount(local), local).toBe(false);
  });

  it('knows free providers, country variants of the big brands included', () => {
    for (const d of ['gmail.com', 'googlemail.com', 'yahoo.co.uk', 'yahoo.fr', 'hotmail.de', 'outlook.com', 'live.com', 'aol.com', 'icloud.com', 'me.com', 'gmx.net', 'gmx.de', 'web.de', 'mail.ru', 'yandex.ru', 'proton.me', 'protonmail.com', 'zoho.com']) {
      expect(isFreeProvider(d), d).toBe(true);
    }
    for (const d of ['acme.com', 'yahoo-inc.example', 'gmail.example.com', 'mygmx.de']) expect(isFreeProvider(d), d).toBe(false);
  });

  it('knows disposable domains from the package list, subdomains of wildcard entries included', () => {
    expect(isDisposableDomain('mailinator.com')).toBe(true);
    expect(isDisposableDomain('anything.33mail.com')).toBe(true);
    expect(isDisposableDomain('gmail.com')).toBe(false);
    expect(isDisposableDomain('acme.test')).toBe(false);
  });

  it('joins flags in a stable order', () => {
    expect(formatFlags(flagAddress({ local: 'info', domain: 'gmail.com' }))).toBe('role;free');
    expect(formatFlags(flagAddress({ local: 'x', domain: 'mailinator.com' }))).toBe('disposable');
    expect(formatFlags(flagAddress({ local: 'x', domain: 'gmial.com' }, 'gmail.com'))).toBe('typo');
    expect(formatFlags(flagAddress({ local: 'john', domain: 'acme.test' }))).toBe('');
  });
});

describe('domain typo suggestions', () => {
  it('fixes popular-provider misspellings and misspelt .com/.net/.org endings', () => {
    expect(suggestDomain('gmial.com')).toBe('gmail.com');
    expect(suggestDomain('gmail.con')).toBe('gmail.com');
    expect(suggestDomain('gmial.con')).toBe('gmail.com');
    expect(suggestDomain('hotmial.com')).toBe('hotmail.com');
    expect(suggestDomain('yahooo.com')).toBe('yahoo.com');
    expect(suggestDomain('acme.con')).toBe('acme.com');
    expect(suggestDomain('comcast.nte')).toBe('comcast.net');
  });

  it('leaves real domains alone (the spell checker alone would turn gmx.net into cox.net)', () => {
    for (const d of ['gmx.net', 'gmail.com', 'acme.com', 'acme.test', 'acme.io', 'startup.ai', 'bar.co.uk', 'web.de', 'aol.cm']) expect(suggestDomain(d), d).toBeUndefined();
  });
});

describe('local-part suggestions', () => {
  it('counts one swap, insertion, deletion or substitution as one edit', () => {
    expect(isOneEditApart('jhon.doe', 'john.doe')).toBe(true); // transposition
    expect(isOneEditApart('jon.doe', 'john.doe')).toBe(true); // insertion
    expect(isOneEditApart('johnn.doe', 'john.doe')).toBe(true); // deletion
    expect(isOneEditApart('jahn.doe', 'john.doe')).toBe(true); // substitution
    expect(isOneEditApart('jhon.deo', 'john.doe')).toBe(false);
    expect(isOneEditApart('john.doe', 'john.doe')).toBe(false);
  });

  it('suggests only an unambiguous, long enough candidate', () => {
    expect(suggestLocalPart('jhon.doe', ['john.doe', 'jane'])).toBe('john.doe');
    expect(suggestLocalPart('Jhon.Doe', ['john.doe'])).toBe('john.doe');
    expect(suggestLocalPart('mary', ['marz', 'mar'])).toBeUndefined(); // two candidates: no guess
    expect(suggestLocalPart('abc', ['abd'])).toBeUndefined(); // too short to guess
  });

  it('the annotator: typo suggestion for undeliverable rows, local part for mailbox_not_found, nothing for deliverable', () => {
    const annotator = createAddressAnnotator(new DeliverableIndex(new Map([['acme.test', ['john.doe']]])));
    expect(annotator.annotate({ local: 'jhon.doe', domain: 'acme.test' }, verdict('undeliverable', 'mailbox_not_found'))).toEqual({ suggestion: 'john.doe@acme.test', flags: '' });
    expect(annotator.annotate({ local: 'sam', domain: 'gmial.com' }, verdict('undeliverable', 'no_such_domain'))).toEqual({ suggestion: 'sam@gmail.com', flags: 'typo' });
    expect(annotator.annotate({ local: 'info', domain: 'gmial.com' }, verdict('deliverable', 'accepted'))).toEqual({ flags: 'role' });
  });
});

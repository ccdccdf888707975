/**
 * The words of a sender-block alert (report.json `alerts`), shared by the CLI summary and the HTML
 * report so both say the same thing: what the block names and what to do. Pure.
 */
import type { SenderAlert } from '../collector/report.ts';

/** What the block names: the blocklist, else the provider's code, else the signature id. */
export function alertCause(alert: SenderAlert): string {
  if (alert.blocklist) return `listed on ${alert.blocklist}`;
  if (alert.code) return `provider code ${alert.code}`;
  if (alert.signature) return `signature ${alert.signature}`;
  return 'refused by the server';
}

/** What to do, never empty: the table's action, or what the cooldown means when only waiting helps. */
export function alertAction(alert: SenderAlert): string {
  if (alert.action) return alert.action;
  return alert.severity === 'throttle'
    ? `Slow down: identity ${alert.identity} rests for this ${alert.provider ? 'provider' : 'server'} until ${alert.cooldownUntil}; other identities carry on.`
    : `Identity ${alert.identity} rests for this ${alert.provider ? 'provider' : 'server'} until ${alert.cooldownUntil}; run \`hygiene doctor --ip\` with its public address to check the common blocklists.`;
}

/** The loud lines of the CLI summary for one alert. */
export function alertLines(alert: SenderAlert): string[] {
  const who = alert.provider ?? alert.mx;
  return [
    alert.severity === 'block'
      ? `SENDER BLOCKED: ${who} refused identity ${alert.identity} (${alertCause(alert)}) at ${alert.mx}`
      : `SENDER THROTTLED: ${who} slowed identity ${alert.identity} down (${alertCause(alert)}) at ${alert.mx}`,
    `  reply:  ${alert.reply}`,
    `  means:  ${alert.means}`,
    `  do:     ${alertAction(alert)}`,
    `  rests:  until ${alert.cooldownUntil} (cooldown level ${alert.level}); its probes went to another identity where one could ask, else they are unknown/policy_block`,
  ];
}

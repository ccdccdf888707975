/** pino logger: JSON lines on stderr, so stdout stays free for results and progress. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { app: 'list-hygiene' } }, pino.destination({ dest: 2, sync: true }));
}

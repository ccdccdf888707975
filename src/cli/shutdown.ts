/** SIGINT and SIGTERM both lead to one ordered shutdown; a second signal forces the exit. */
export function onShutdownSignal(handler: (signal: NodeJS.Signals) => Promise<void>): () => void {
  let shuttingDown = false;
  const listener = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      process.stderr.write(`hygiene: ${signal} again; exiting now\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    shuttingDown = true;
    process.stderr.write(`hygiene: ${signal} received; finishing active jobs and shutting down (send again to force)\n`);
    void handler(signal).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}

/**
 * Ctrl-C and SIGTERM for long commands: the first signal aborts the work gracefully (it stops
 * between steps or tokens and saves what it must); a second one exits at once. Exit codes follow
 * the shell convention: 130 for SIGINT, 143 for SIGTERM.
 */
export interface Interrupt {
  /** The exit code for the signal received (130 / 143), or 0 if none was. */
  exitCode(): number;
  /**
   * For a command's catch block: when the signal made the work throw, print `message`, set the
   * exit code (130 / 143) and swallow the error; any other error is thrown again.
   */
  settle(err: unknown, message: string): void;
  dispose(): void;
}

export function onInterrupt(controller: AbortController, what: string): Interrupt {
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received) process.exit(signal === 'SIGTERM' ? 143 : 130);
    received = signal;
    process.stderr.write(`\nmlx-lab: ${signal} received: ${what} (send it again to quit now)\n`);
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  const exitCode = () => (received === 'SIGTERM' ? 143 : received ? 130 : 0);
  return {
    exitCode,
    settle(err, message) {
      if (!controller.signal.aborted) throw err;
      process.stderr.write(`mlx-lab: ${message}\n`);
      process.exitCode = exitCode() || 130;
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

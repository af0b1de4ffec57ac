/**
 * Ctrl-C and SIGTERM for long commands: the first signal aborts the work gracefully (it stops
 * between steps, layers or tokens and saves what it must); a second one quits at once. Commands
 * with nothing to save also give the work a deadline (`graceMs`): one native operation that
 * cannot be cut short (a long prefill, loading a model) must not keep the user waiting. Exit
 * statuses follow the shell convention: 130 for SIGINT, 143 for SIGTERM. Quitting at once
 * re-raises the signal with its default action, so the shell sees the same 130 / 143 and no
 * exit handlers run while the engine thread is busy; every file is written atomically
 * (src/core/atomic.ts), so nothing half-written is left either way.
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

export interface InterruptOptions {
  /** Quit this long after the first signal if the work has not stopped (default: wait for it). */
  graceMs?: number;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** The deadline of commands with nothing to save: within 5 s of the signal, with a margin. */
export const GRACE_MS = 4000;

/** End the process by `signal` itself (default action), without exit handlers. */
function quitNow(signal: NodeJS.Signals, handler: (s: NodeJS.Signals) => void): void {
  for (const s of SIGNALS) process.off(s, handler);
  process.kill(process.pid, signal);
}

export function onInterrupt(controller: AbortController, what: string, options: InterruptOptions = {}): Interrupt {
  let received: NodeJS.Signals | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received) return quitNow(received, handler);
    received = signal;
    process.stderr.write(`\nmlx-lab: ${signal} received: ${what} (send it again to quit now)\n`);
    controller.abort(new Error(signal));
    if (options.graceMs !== undefined) {
      deadline = setTimeout(() => {
        process.stderr.write(`mlx-lab: still busy ${(options.graceMs! / 1000).toFixed(0)} s after ${signal}; quitting now (nothing half-written is left)\n`);
        quitNow(signal, handler);
      }, options.graceMs);
      deadline.unref();
    }
  };
  for (const s of SIGNALS) process.on(s, handler);
  const exitCode = () => (received === 'SIGTERM' ? 143 : received ? 130 : 0);
  return {
    exitCode,
    settle(err, message) {
      if (!controller.signal.aborted) throw err;
      process.stderr.write(`mlx-lab: ${message}\n`);
      process.exitCode = exitCode() || 130;
    },
    dispose() {
      clearTimeout(deadline);
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
}

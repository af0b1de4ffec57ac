/**
 * The drain guard: Node exits with 0 when nothing is left to run, even if the command's work is
 * still pending (a promise that never settles: a user scorer, a lost callback). A command that
 * has not finished when the event loop drains fails with E_UNFINISHED instead.
 */
export function guardDrain(work: Promise<unknown>, what: string): void {
  let settled = false;
  const onDrain = () => {
    if (settled) return;
    settled = true; // once: the message below must not repeat if something else is scheduled
    process.stderr.write(`mlx-lab: error E_UNFINISHED: ${what} ended with work still pending (a promise that never settled, e.g. in a user scorer); nothing it was asked to do after that point was done\n`);
    process.exitCode = 1;
  };
  process.on('beforeExit', onDrain);
  work.finally(() => {
    settled = true;
    process.off('beforeExit', onDrain);
  }).catch(() => {});
}

// A vitest reporter (next to the default one): after a run it prints how many tests were skipped
// and why, one line per skipped suite or test. With CI=true a skip that test/expected-skips.json
// (or the file MLX_LAB_EXPECTED_SKIPS names) does not list fails the run: a test that silently
// stops running is a test CI no longer has.
// Why: describeOrSkip's reason (test/helpers/skip.ts), a ctx.skip(note), else "no reason given".
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Reporter, TestCase, TestModule, TestSuite, Vitest } from 'vitest/node';

const ROOT = join(import.meta.dirname, '..', '..');
/** The allow-list file: MLX_LAB_EXPECTED_SKIPS, else test/expected-skips.json. */
const ALLOW_LIST = process.env.MLX_LAB_EXPECTED_SKIPS ?? join(ROOT, 'test', 'expected-skips.json');

interface Skip {
  /** "file > suite > test". */
  test: string;
  reason: string;
}

/** Why a test was skipped: its own note, else the reason of the nearest suite that has one. */
function reasonOf(t: TestCase, filtered: boolean): string {
  const result = t.result();
  if (result.state === 'skipped' && result.note) return result.note;
  for (let s: TestSuite | TestModule = t.parent; s.type === 'suite'; s = s.parent) {
    const reason = s.meta().skipReason;
    if (reason) return reason;
  }
  return filtered ? 'not selected (-t)' : 'no reason given';
}

/** Every skipped test of the run, named "file > suite > test". */
function skipsOf(modules: ReadonlyArray<TestModule>, filtered: boolean): Skip[] {
  return modules.flatMap((m) =>
    [...m.children.allTests('skipped')].map((t) => ({ test: `${relative(ROOT, m.moduleId)} > ${t.fullName}`, reason: reasonOf(t, filtered) })),
  );
}

/** The allow-list: "test" is a prefix of the skipped test's name ("file > suite" covers a suite). */
function expectedSkips(): Skip[] {
  return (JSON.parse(readFileSync(ALLOW_LIST, 'utf8')) as { skips: Skip[] }).skips;
}

/** One line per reason with the tests it covers (their common prefix when many). */
function summary(skips: Skip[]): string[] {
  const byReason = new Map<string, string[]>();
  for (const s of skips) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), s.test]);
  return [...byReason].map(([reason, tests]) => `  ${tests.length} × ${reason}\n${tests.map((t) => `      ${t}`).join('\n')}`);
}

export default class SkipReport implements Reporter {
  private filtered = false;

  /** A run narrowed by -t skips what it filters out: those are not checked. */
  onInit(vitest: Vitest): void {
    this.filtered = Boolean(vitest.config.testNamePattern);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skips = skipsOf(modules, this.filtered);
    process.stdout.write(`\nskipped: ${skips.length} test${skips.length === 1 ? '' : 's'}${skips.length ? '' : '\n'}`);
    if (skips.length) process.stdout.write(`, why:\n${summary(skips).join('\n')}\n`);
    if (process.env.CI !== 'true' || this.filtered) return;
    const allowed = expectedSkips();
    const unexpected = skips.filter((s) => !allowed.some((a) => s.test.startsWith(a.test)));
    if (unexpected.length === 0) return;
    process.stderr.write(`\nCI: ${unexpected.length} skip(s) not listed in ${relative(ROOT, ALLOW_LIST)}:\n${unexpected.map((s) => `  ${s.test} (${s.reason})`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

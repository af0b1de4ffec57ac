// The one way tests compare numbers computed by two implementations (ours against mlx-lm's
// fixtures, compute modes, fused against adapter, sharded against whole): the largest absolute
// difference divided by the largest magnitude of the expected values, so that a bound does not
// depend on the values' scale, only on how differently two BLAS kernels round. Every check prints
// one machine-readable line, `BOUND <label> measured=<ratio> bound=<rel>`, which
// scripts/kernel-spread.mjs collects across OPENBLAS_CORETYPE kernels.
import { expect } from 'vitest';

/** Numbers to compare: a scalar, an array, or named arrays (compared name by name). */
export type Values = number | ArrayLike<number> | Record<string, ArrayLike<number> | { data: ArrayLike<number> }>;

export interface CloseOptions {
  /** Largest allowed max|got − want| / max|want|. */
  rel: number;
  /** A stable name for the comparison: the key of the kernel-spread table. */
  label: string;
}

/** Named arrays of a Values (a scalar or an array is one unnamed entry). */
function entries(v: Values): [string, ArrayLike<number>][] {
  if (typeof v === 'number') return [['', [v]]];
  if (isArrayLike(v)) return [['', v]];
  return Object.entries(v).map(([k, x]) => [k, isArrayLike(x) ? x : x.data]);
}

/** Whether v is an array of numbers rather than a record of them. */
function isArrayLike(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || ArrayBuffer.isView(v);
}

/** max|a − b| / max|b| over one pair of arrays (0 when both are all zero). */
function pairDeviation(a: ArrayLike<number>, b: ArrayLike<number>, name: string): number {
  if (a.length !== b.length) throw new Error(`${name || 'values'}: length ${a.length} != ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (Number.isNaN(diff)) return Infinity;
  return diff === 0 ? 0 : diff / scale;
}

/** The deviation of got from want relative to want's scale; for named arrays the worst name. */
export function relDeviation(got: Values, want: Values): number {
  const w = new Map(entries(want));
  const g = entries(got);
  if (g.length !== w.size) throw new Error(`compared ${g.length} arrays against ${w.size}`);
  let worst = 0;
  for (const [name, a] of g) {
    const b = w.get(name);
    if (!b) throw new Error(`"${name}" has nothing to compare against`);
    worst = Math.max(worst, pairDeviation(a, b, name));
  }
  return worst;
}

/** Print the machine-readable line for one comparison. */
function report(tag: string, label: string, measured: number, bound: number, extra = ''): void {
  console.log(`${tag} ${label.replace(/\s+/g, '_')} measured=${measured.toExponential(3)} bound=${bound.toExponential(3)}${extra}`);
}

/** Expect got within `rel` of want's scale; returns the measured ratio. */
export function expectClose(got: Values, want: Values, { rel, label }: CloseOptions): number {
  const measured = relDeviation(got, want);
  report('BOUND', label, measured, rel);
  expect.soft(measured, `${label}: max|Δ| / max|want| = ${measured.toExponential(3)} > ${rel.toExponential(1)}`).toBeLessThanOrEqual(rel);
  return measured;
}

/** Expect a deliberately wrong variant to break the bound by at least `factor`; returns the ratio. */
export function expectBreaks(got: Values, want: Values, { rel, label, factor }: CloseOptions & { factor: number }): number {
  const measured = relDeviation(got, want);
  report('MUTANT', label, measured, rel, ` factor=${(measured / rel).toFixed(1)}`);
  expect.soft(measured, `${label}: a wrong variant passed the bound (ratio ${(measured / rel).toFixed(2)} < ${factor})`).toBeGreaterThanOrEqual(factor * rel);
  return measured;
}

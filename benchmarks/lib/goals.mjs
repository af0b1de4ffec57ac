// The goals of issue 7, each a ratio measured in one run on one machine, and how to read each
// one out of the benchmark reports. A goal can have several comparisons (mlx-lm as users
// install it, mlx-lm on our libmlx); `fair` marks the one on the same libmlx (and, for
// training, the same float32 math): the comparison the goal is judged on.

export const GOALS = [
  { id: 'decode', what: 'decode tokens/s, ours / mlx_lm.generate', target: 1.1, unit: 'x', from: 'generate' },
  { id: 'prefill', what: 'prompt (prefill) tokens/s, ours / mlx_lm.generate', target: 1.0, unit: 'x', from: 'generate' },
  { id: 'train', what: 'LoRA training tokens/s, ours / mlx_lm.lora', target: 1.2, unit: 'x', from: 'train' },
  { id: 'eval', what: 'example eval suite, mlx_lm.server + HTTP time / ours in process', target: 5, unit: 'x', from: 'eval' },
  { id: 'bandwidth', what: 'decode as a share of the memory-bandwidth bound', target: 0.6, unit: '%', from: 'bandwidth' },
];

/** Which of our sides a goal is measured with: the default compute mode. */
const OURS = 'ours auto';

/** Comparisons of one goal: [{ comparison, value, fair }]. */
function comparisons(goal, reports) {
  const r = reports[goal.from];
  if (!r) return [];
  if (goal.id === 'decode' || goal.id === 'prefill') {
    const rows = r.ratios.filter((x) => x.ours === OURS && x.batch === 1);
    const first = rows[0]?.prompt_tokens;
    return rows
      .filter((x) => x.prompt_tokens === first)
      .map((x) => ({ comparison: `${x.ours} / ${x.mlx_lm} (prompt ${x.prompt_tokens}, batch 1)`, value: goal.id === 'decode' ? x.decode : x.prompt, fair: x.mlx_lm.endsWith('openblas') }));
  }
  if (goal.id === 'train') {
    return r.ratios.filter((x) => x.ours === OURS).map((x) => ({ comparison: `${x.ours} / ${x.mlx_lm}`, value: x.tokens_per_sec, fair: x.mlx_lm.endsWith('openblas-f32') }));
  }
  if (goal.id === 'eval') {
    return r.ratios.filter((x) => x.ours === OURS).map((x) => ({ comparison: `${x.server} / ${x.ours}, ${r.cases} of ${r.cases_in_suite} cases`, value: x.suite, fair: true }));
  }
  return [{ comparison: `${r.compute.mode} weights + KV per token × decode tok/s ÷ copy bandwidth`, value: r.fraction, fair: true }];
}

/** Every goal with its comparisons and whether each is met: [{ ...goal, rows: [{ comparison, value, fair, met }] }]. */
export function evaluateGoals(reports) {
  return GOALS.map((g) => ({ ...g, rows: comparisons(g, reports).map((c) => ({ ...c, met: Number.isFinite(c.value) && c.value >= g.target })) }));
}

export const formatGoalValue = (goal, x) => (!Number.isFinite(x) ? '—' : goal.unit === '%' ? `${(x * 100).toFixed(1)}%` : `${x.toFixed(2)}×`);

/** Rows of the headline table (header first): goal, measured, target, met, comparison. */
export function goalRows(goals) {
  const rows = [['goal', 'measured', 'goal', 'met', 'comparison']];
  for (const g of goals) {
    const target = g.unit === '%' ? `≥ ${g.target * 100}%` : `≥ ${g.target}×`;
    if (!g.rows.length) rows.push([g.what, '—', target, '—', 'not measured in this run']);
    for (const r of g.rows) rows.push([g.what, formatGoalValue(g, r.value), target, r.met ? 'met' : 'NOT met', `${r.comparison}${r.fair ? ' (fair)' : ''}`]);
  }
  return rows;
}

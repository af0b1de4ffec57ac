// The goals of issue 7, each a ratio measured in one run on one machine, and how to read each
// one out of the benchmark reports. A goal can have several comparisons; `like` marks the
// like-for-like ones (same weights and kernels, or the same float32 math, on the same libmlx and
// BLAS): the headline the goal is judged on. The others are labelled as what they are (what a
// user gets: our policy and engine against mlx-lm as installed; the llama.cpp peer).

export const GOALS = [
  { id: 'decode', what: 'decode tokens/s, ours / mlx_lm.generate', target: 1.1, unit: 'x', from: 'generate' },
  { id: 'prefill', what: 'prompt (prefill) tokens/s, ours / mlx_lm.generate', target: 1.0, unit: 'x', from: 'generate' },
  { id: 'train', what: 'LoRA training tokens/s, ours / mlx_lm.lora', target: 1.2, unit: 'x', from: 'train' },
  { id: 'eval', what: 'example eval suite, mlx_lm.server + HTTP time / ours in process', target: 5, unit: 'x', from: 'eval' },
  { id: 'bandwidth', what: 'decode as a share of the memory-bandwidth bound', target: 0.6, unit: '%', from: 'bandwidth' },
];

/** Which of our sides the policy comparisons use: the default compute mode. */
const OURS = 'ours auto';

/** "1.20× [1.10×–1.30×]"-style range of a paired ratio, when it has one. */
const range = (s) => (s && s.n > 1 ? { min: s.min, max: s.max, n: s.n } : null);

/** Comparisons of one goal: [{ comparison, kind, value, range, like }]. */
function comparisons(goal, reports) {
  const r = reports[goal.from];
  if (!r) return [];
  if (goal.id === 'decode' || goal.id === 'prefill') {
    // The goals are against mlx_lm.generate: the llama.cpp peer and feature rows stay in generate's own table.
    const rows = (r.comparisons ?? []).filter((x) => x.batch === 1 && x.kind !== 'peer' && !x.kind.startsWith('feature'));
    const first = rows[0]?.prompt_tokens;
    return rows
      .filter((x) => x.prompt_tokens === first)
      .map((x) => ({
        comparison: `${x.ours} / ${x.other} (prompt ${x.prompt_tokens}, batch 1)`,
        kind: x.kind,
        value: goal.id === 'decode' ? x.decode : x.prompt,
        range: range(goal.id === 'decode' ? x.decode_spread : x.prompt_spread),
        like: x.kind === 'like-for-like',
      }));
  }
  if (goal.id === 'train') {
    return r.ratios.map((x) => ({ comparison: `${x.ours} / ${x.mlx_lm}${x.data ? `, ${x.data} data` : ''}`, kind: x.kind, value: x.tokens_per_sec, range: range(x.tokens_per_sec_spread), like: x.like ?? false }));
  }
  if (goal.id === 'eval') {
    // The default policy's rows, and the like-for-like ones (our float32 copies against the -f32 server).
    return r.ratios.filter((x) => x.ours === OURS || x.like).map((x) => ({
      comparison: `${x.server} / ${x.ours}, ${r.cases} of ${r.cases_in_suite} cases`,
      kind: x.kind ?? (x.mode === 'concurrent' ? 'both batch, same libmlx' : x.mode === 'sequential' ? 'server one request at a time' : null),
      value: x.suite,
      range: range(x.suite_spread),
      like: x.like ?? false,
    }));
  }
  return [{ comparison: `${r.compute.mode} weights + KV per token × decode tok/s ÷ copy bandwidth`, kind: null, value: r.fraction, like: false }];
}

/** Every goal with its comparisons and whether each is met: [{ ...goal, rows: [{ comparison, kind, value, range, like, met }] }]. */
export function evaluateGoals(reports) {
  return GOALS.map((g) => ({ ...g, rows: comparisons(g, reports).map((c) => ({ ...c, met: Number.isFinite(c.value) && c.value >= g.target })) }));
}

export const formatGoalValue = (goal, x) => (!Number.isFinite(x) ? '—' : goal.unit === '%' ? `${(x * 100).toFixed(1)}%` : `${x.toFixed(2)}×`);

/** Rows of the headline table (header first): goal, measured [range over rounds], target, met, comparison. */
export function goalRows(goals) {
  const rows = [['goal', 'measured', 'goal', 'met', 'comparison']];
  for (const g of goals) {
    const target = g.unit === '%' ? `≥ ${g.target * 100}%` : `≥ ${g.target}×`;
    if (!g.rows.length) rows.push([g.what, '—', target, '—', 'not measured in this run']);
    for (const r of g.rows) {
      const value = formatGoalValue(g, r.value) + (r.range ? ` [${formatGoalValue(g, r.range.min)}–${formatGoalValue(g, r.range.max)}]` : '');
      const kind = r.like && !r.kind?.startsWith('like-for-like') ? `like-for-like: ${r.kind}` : r.kind;
      rows.push([g.what, value, target, r.met ? 'met' : 'NOT met', `${r.comparison}${kind ? ` (${kind})` : ''}`]);
    }
  }
  return rows;
}

// benchmarks/RESULTS.md from one harness run (run.mjs): date, machine and versions, the goals
// table, the load average around each benchmark, then each benchmark's own table.
import { blasText } from './env.mjs';
import { fmt, mdTable, spreadText } from './stats.mjs';
import { goalRows } from './goals.mjs';

const short = (p) => String(p ?? '').split('/').slice(-2).join('/');
const loadText = (l) => (l ? l.map((x) => x.toFixed(1)).join(' → ') : '—');

/** The scaling pivots: one table per metric, rows model × prompt length, columns batch sizes. */
export function scalingTables(report) {
  const batches = [...new Set(report.models.flatMap((m) => m.results.map((r) => r.batch)))];
  const metric = (name, pick, format) => {
    const rows = [[`${name}: model`, 'params', 'prompt', ...batches.map((b) => `batch ${b}`)]];
    for (const m of report.models) {
      for (const p of [...new Set(m.results.map((r) => r.prompt_tokens))]) {
        const cell = (b) => {
          const r = m.results.find((x) => x.prompt_tokens === p && x.batch === b);
          return r ? format(pick(r)) : '—';
        };
        rows.push([`${m.arch} ${m.size}`, `${(m.parameters / 1e6).toFixed(1)}M`, p, ...batches.map(cell)]);
      }
    }
    return rows;
  };
  return {
    prefill: metric('prefill tok/s', (r) => r.prompt_tps.median, fmt.tps),
    decode: metric('decode tok/s', (r) => r.generation_tps.median, fmt.tps),
    memory: metric('peak MiB', (r) => r.peak_memory.median, fmt.mb),
  };
}

/** What each side runs: weights, kernels, BLAS (and kernel), batching. */
function sidesTable(sides) {
  return mdTable([['side', 'weights', 'kernels', 'BLAS', 'batching'], ...sides.map((s) => [s.name, s.weights ?? '—', s.kernels ?? '—', blasText(s.blas), s.batching ?? '—'])]);
}

const ratioSpread = (s) => spreadText(s, fmt.ratio);

function generateSection(r) {
  const rows = [['side', 'prompt', 'batch', 'timed runs', 'prompt tok/s median [min–max]', 'decode tok/s median [min–max]', 'peak MiB (MLX)', 'max RSS MiB']];
  for (const s of r.sides) {
    for (const x of s.results) rows.push([s.name, x.prompt_tokens, x.batch, x.timed_runs ?? x.prompt_tps.n ?? '—', spreadText(x.prompt_tps, fmt.tps), spreadText(x.generation_tps, fmt.tps), x.peak_memory ? fmt.mb(x.peak_memory.median) : '—', s.info?.max_rss ? fmt.mb(s.info.max_rss.median) : '—']);
  }
  const comparisons = [['kind', 'comparison', 'A / B', 'prompt', 'batch', 'prefill', 'decode', 'peak memory', 'max RSS']];
  for (const x of r.comparisons ?? []) comparisons.push([x.kind, x.label, `${x.ours} / ${x.other}`, x.prompt_tokens, x.batch, ratioSpread(x.prompt_spread), ratioSpread(x.decode_spread), fmt.ratio(x.memory), fmt.ratio(x.max_rss)]);
  return [
    `${short(r.model)}, ${r.max_tokens} generated tokens, greedy; ${r.reps} rounds with the sides interleaved (${(r.order ?? []).slice(0, r.sides.length + 1).join(', ')}${r.order?.length > r.sides.length + 1 ? ', …' : ''}), each side a fresh process per round after ${r.warmup} warm-up run(s). Ratios: the median of the per-round ratios [min–max].`,
    sidesTable(r.sides),
    mdTable(rows),
    comparisons.length > 1 ? mdTable(comparisons) : '',
  ];
}

function trainSection(r) {
  const rows = [['side', 'data', 'iterations timed (all rounds)', 'tokens/s median [min–max]', 'peak MiB', 'loss first → last']];
  for (const s of r.sides) rows.push([s.side ?? s.name, s.data ?? '—', s.result.timed_iterations_total ?? s.result.timed_iterations ?? '—', spreadText(s.result.tokens_per_sec_spread ?? { n: 1, median: s.result.tokens_per_sec }, fmt.tps), fmt.mb(s.result.peak_memory), `${s.result.first_loss?.toFixed(3)} → ${s.result.last_loss?.toFixed(3)}`]);
  const ratios = [['kind', 'ours / mlx-lm', 'data', 'tokens/s [min–max]', 'memory', 'same batches', 'max loss rel diff']];
  for (const x of r.ratios) ratios.push([x.kind ?? '—', `${x.ours} / ${x.mlx_lm}`, x.data ?? '—', spreadText(x.tokens_per_sec_spread ?? { n: 1, median: x.tokens_per_sec }, fmt.ratio), fmt.ratio(x.memory), x.same_batches ? 'yes' : 'NO', x.loss.max_rel.toExponential(1)]);
  const prefix = (r.prefix_reuse ?? []).map((x) => [x.side, fmt.ratio(x.shared_over_none)]);
  const st = r.settings;
  const data = Object.entries(r.data_stats ?? {}).map(([k, d]) => `${k}: ${d.examples} examples, ${d.mean_tokens?.toFixed(0)} tokens on average`).join('; ');
  const unique = [...new Map(r.sides.map((s) => [s.side ?? s.name, { ...s, name: s.side ?? s.name }])).values()];
  return [
    `${short(r.model)}, ${data}; LoRA rank ${st.lora_parameters.rank} on ${st.num_layers} layers, batch ${st.batch_size}, ${st.iters} iterations (the first ${st.warmup} not timed); ${r.rounds ?? 1} round(s), sides interleaved.`,
    sidesTable(unique),
    mdTable(rows),
    r.ratios.length ? mdTable(ratios) : '',
    prefix.length ? mdTable([['side', 'tokens/s shared-prefix / no-prefix data'], ...prefix]) : '',
  ];
}

function evalSection(r) {
  const rows = [['side', 'cases timed', 'load / start-up s', 'suite s median [min–max]', 'format score']];
  for (const s of r.sides) rows.push([s.name, s.timed_cases ?? r.cases, s.setup_seconds.toFixed(1), spreadText(s.suite_seconds_spread ?? { n: 1, median: s.suite_seconds }, (x) => x.toFixed(1)), s.score.toFixed(3)]);
  const ratios = [['speed-up (server / ours)', 'suite only [min–max]', 'with load / start-up']];
  for (const x of r.ratios) ratios.push([`${x.ours} vs ${x.server} (${x.kind ?? (x.like ? 'both batch' : 'one request at a time')})`, spreadText(x.suite_spread ?? { n: 1, median: x.suite }, fmt.ratio), fmt.ratio(x.with_setup)]);
  return [`${short(r.suite)}: ${r.cases} of ${r.cases_in_suite} cases, ${short(r.model)}; ${r.rounds ?? 1} round(s), sides interleaved.`, sidesTable(r.sides), mdTable(rows), r.ratios.length ? mdTable(ratios) : ''];
}

function bandwidthSection(r) {
  const GB = 1e9;
  return [
    `${short(r.model)}, compute ${r.compute.mode}, batch 1, ${r.prompt_tokens} prompt + ${r.max_tokens} generated tokens.`,
    mdTable([
      ['quantity', 'value'],
      ['copy bandwidth, best (1 thread / all threads)', `${(r.copy.best / GB).toFixed(1)} GB/s (${(r.copy.best_single / GB).toFixed(1)} / ${r.copy.best_parallel ? (r.copy.best_parallel / GB).toFixed(1) : '—'} on ${r.copy.threads})`],
      ['weight bytes read per token', `${fmt.mb(r.bytes_per_token.weights)} MiB`],
      [`KV cache bytes at position ${r.bytes_per_token.position}`, `${fmt.mb(r.bytes_per_token.kv)} MiB`],
      ['bound', `${fmt.tps(r.bound_tps)} tok/s`],
      ['decode, median (best)', `${fmt.tps(r.decode_tps.median)} (${fmt.tps(r.decode_tps.best)}) tok/s`],
      ['share of the bound', `${(r.fraction * 100).toFixed(1)}%`],
    ]),
  ];
}

function scalingSection(r) {
  const t = scalingTables(r);
  return [`Random float32 models (ours only), ${r.max_tokens} generated tokens, ${r.reps} reps after ${r.warmup} warm-up; tokens/s are batch totals, medians.`, mdTable(t.prefill), mdTable(t.decode), mdTable(t.memory)];
}

function matmulSection(r) {
  return [`BLAS: ${typeof r.blas === 'object' ? blasText(r.blas) : r.blas ?? 'unknown'}.`, mdTable([['dtype', `GFLOP/s (${r.n}³)`], ...r.results.map((x) => [x.dtype, x.gflops.toFixed(1)])])];
}

/** benchmarks/ui.mjs: training steps/s without and with the live page open, and how fast the training process answered meanwhile. */
export function uiSection(r) {
  const f2 = (x) => x.toFixed(2);
  const s = r.settings;
  const rows = [['side', 'steps/s', 'with / without', 'page ms, median [max]', 'page redraws per round']];
  for (const x of r.sides) {
    rows.push([x.name, spreadText(x.steps_per_sec, f2), x.page_ms ? `${fmt.ratio(r.ratio.median)} [${f2(r.ratio.min)}–${f2(r.ratio.max)}]` : '—', x.page_ms ? `${x.page_ms.median.toFixed(1)} [${x.page_ms.max.toFixed(1)}]` : '—', x.page_redraws ? x.page_redraws.join(' / ') : '—']);
  }
  return [
    `\`mlx-lab train\` on ${short(r.model)}, ${s.iters} iterations (the first ${s.warmup} not timed), batch ${s.batch}, LoRA on ${s.num_layers === -1 ? "all" : s.num_layers} layers, a format eval of ${short(r.suite)} (${s.max_tokens} tokens) every ${s.eval_every} steps; ${r.rounds} interleaved rounds, client: ${r.client}. Steps/s: the training steps' own time (evals excluded), median [min–max]; with / without: the median of the per-round ratios. Page ms: the training process answering a small request every ${s.probe_ms} ms while it trained.`,
    mdTable(rows),
  ];
}

const SECTIONS = { matmul: matmulSection, generate: generateSection, bandwidth: bandwidthSection, train: trainSection, eval: evalSection, ui: uiSection, scaling: scalingSection };

/** The whole RESULTS.md text. */
export function resultsMarkdown(run) {
  const m = run.machine;
  const v = run.versions;
  const out = ['# Benchmark results', ''];
  if (run.quick) out.push('> **QUICK SMOKE RUN** (`--quick`: small sizes, 2 rounds). It checks that the harness works; its numbers are not measurements.', '');
  if (!run.sources) out.push(`Run ${run.date} with \`${run.command}\` (${(run.seconds / 60).toFixed(1)} min).`, '');
  else {
    out.push(`Rendered with \`${run.command}\` from ${run.sources.length} committed runs (${(run.seconds / 60).toFixed(1)} min of benchmarks in all); each benchmark comes from the last run that has it:`, '');
    out.push(mdTable([['file', 'date', 'commit', 'benchmarks', 'minutes', 'command'], ...run.sources.map((s) => [s.file, s.date, s.git?.sha ? `${s.git.sha.slice(0, 12)}${s.git.dirty ? ' (dirty)' : ''}` : 'unknown', s.benchmarks.join(', '), (s.seconds / 60).toFixed(1), `\`${s.command}\``])]), '');
  }
  out.push('## Machine and versions', '');
  out.push(mdTable([
    ['', ''],
    ['CPU', `${m.cpu}, ${m.cores} cores`],
    ['memory', `${m.memoryGB} GB`],
    ['OS', m.os],
    ['node', m.node],
    ['commit', run.sources ? 'per run, in the table above' : run.git?.sha ? `${run.git.sha}${run.git.dirty ? ' (dirty: the tree had changes not in this commit)' : ' (clean tree)'}` : 'unknown'],
    ['MLX (ours)', `${v.ours.mlx} (${v.ours.sdk ?? 'own build'}, ${v.ours.device})`],
    ['BLAS (ours)', typeof v.ours.blas === 'string' ? v.ours.blas : blasText(v.ours.blas)],
    ...Object.entries(v.mlx_lm).map(([k, x]) => [`mlx-lm ${k} venv`, x.mlx_lm ? `mlx-lm ${x.mlx_lm}, mlx ${x.mlx}, BLAS ${blasText(x.blas)}${k === 'same-blas' ? ' (the same files as ours)' : ' (the wheel as shipped)'}` : 'not available']),
    ...(v.llama_cpp ? [['llama.cpp peer', `${v.llama_cpp} (prebuilt CPU binaries from npm)`]] : []),
  ]), '');
  out.push('## Goals', '', 'Each ratio is measured in this one run, on this machine: the median of the per-round ratios of interleaved rounds [min–max]. "(like-for-like)" marks the comparisons with the same weights and kernels (or the same float32 math) on the same libmlx and BLAS, which the goal is judged on; "policy + engine" rows compare what a user gets (our compute policy and engine against mlx-lm as installed); "peer" rows compare with llama.cpp.', '');
  out.push(mdTable(goalRows(run.goals)), '');
  if (run.timed && Object.keys(run.timed).length) out.push('## Iterations timed', '', 'What each side actually timed (runs, iterations or cases over all rounds), not what was asked.', '', mdTable([['benchmark', 'side', 'timed'], ...Object.entries(run.timed).flatMap(([b, x]) => (typeof x === 'object' ? Object.entries(x).map(([k, n]) => [b, k, Array.isArray(n) ? n.join(' / ') : n]) : [[b, '—', x]]))]), '');
  out.push('## Runs', '', 'Each benchmark runs in its own process; every side inside it in a fresh process too. Load average (1 min) before → after: on a shared machine compare only runs made under similar load.', '');
  // The 1-min load before a benchmark still holds the previous one (up to ~the core count): more is other work.
  const busy = (r) => r.loadavg[0] > m.cores * 1.5;
  const from = (r) => (run.sources ? [r.source ?? '—'] : []);
  out.push(mdTable([['benchmark', 'status', 'minutes', 'load before → after', 'arguments', ...(run.sources ? ['from'] : [])], ...run.runs.map((r) => [r.name, r.status, (r.seconds / 60).toFixed(1), `${loadText(r.loadavg)}${busy(r) ? ' (busy)' : ''}`, `\`${r.args.join(' ')}\``, ...from(r)])]), '');
  if (run.runs.some(busy)) out.push(`**Busy machine:** a load average above ${m.cores * 1.5} (1.5 × the ${m.cores} cores; the previous benchmark accounts for up to ~${m.cores}) before a benchmark means other work shared the CPU during the ones marked (busy): their numbers are not representative.`, '');
  for (const r of run.runs) {
    const report = run.reports[r.name];
    if (!report) continue;
    out.push(`## ${r.name}`, '', ...SECTIONS[r.name](report).filter(Boolean).flatMap((x) => [x, '']));
  }
  return out.join('\n');
}

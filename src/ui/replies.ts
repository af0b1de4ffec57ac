/** The raw replies of one case at each format eval of a run, from its metrics log. */
import { loadRun } from '../report/load.js';
import { eventsOf } from '../run/metrics.js';

export interface CaseReplies {
  label?: string;
  /** One per eval that scored the case; `label` names an eval that is not of a training step (the fused model's). */
  evals: { iteration: number; label?: string; score: number | null; reply: string | null }[];
}

/** Each format eval of the run folder that scored case `id`, then the fused model's eval: its score and reply (null when the log has no replies). */
export function repliesOf(dir: string, id: string): CaseReplies {
  const run = loadRun(dir);
  const reply = (e: { replies?: Record<string, string> }) => (e.replies && Object.hasOwn(e.replies, id) ? e.replies[id] : null);
  const scored = (e: { cases?: Record<string, number> }) => !!e.cases && typeof e.cases === 'object' && Object.hasOwn(e.cases, id);
  const evals: CaseReplies['evals'] = eventsOf(run.events, 'format')
    .filter(scored)
    .map((e) => ({ iteration: e.iteration, score: e.cases[id] ?? null, reply: reply(e) }));
  const fused = eventsOf(run.events, 'fused').filter(scored).at(-1);
  if (fused) evals.push({ iteration: fused.iteration, label: `fused ${fused.bits}-bit model (from step ${fused.iteration})`, score: fused.cases[id] ?? null, reply: reply(fused) });
  return { evals };
}

/** The raw replies of one case at each format eval of a run, from its metrics log. */
import { loadRun } from '../report/load.js';
import { eventsOf } from '../run/metrics.js';

export interface CaseReplies {
  label?: string;
  evals: { iteration: number; score: number | null; reply: string | null }[];
}

/** Each format eval of the run folder that scored case `id`: its score and reply (null when the log has no replies). */
export function repliesOf(dir: string, id: string): CaseReplies {
  const run = loadRun(dir);
  const evals = eventsOf(run.events, 'format')
    .filter((e) => Object.hasOwn(e.cases, id))
    .map((e) => ({ iteration: e.iteration, score: e.cases[id] ?? null, reply: e.replies && Object.hasOwn(e.replies, id) ? e.replies[id] : null }));
  return { evals };
}

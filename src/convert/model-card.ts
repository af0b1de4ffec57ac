/**
 * The model card (README.md) that `upload` puts next to a fused model or an adapter: YAML front
 * matter the Hub reads (library_name, base_model, tags) and a body with what the run folder
 * knows: the suite, the format score with its interval, the val loss, the selected step and why,
 * and the base model with its revision. Every value from a run folder is quoted (front matter
 * through the yaml package, the body escaped), so no run can add keys or break the page.
 */
import { basename } from 'node:path';
import { stringify } from 'yaml';
import { cachedCommit, repoFolder } from '../hub/cache.js';
import { hubEnv } from '../hub/env.js';
import { COMMIT, parseHubId } from '../hub/id.js';
import type { FormatRecord, RunManifest } from '../run/manifest.js';

/** The base model: a Hub repo (with the commit or revision when known) or a local folder's name. */
export type BaseModel = { repo: string; revision?: string } | { local: string };

/** A score with its Wilson 95% interval. */
export interface ScoreFacts {
  score: number;
  low: number;
  high: number;
}

/** What a run folder says about the model being uploaded. */
export interface RunFacts {
  base?: BaseModel;
  /** The eval suite's file name. */
  suite?: string;
  fineTuneType?: string;
  iterations?: number;
  stopReason?: string;
  baseline?: ScoreFacts;
  selected?: {
    iteration: number;
    metric: string;
    rule: string;
    reason: string;
    format?: ScoreFacts;
    valLoss?: number;
  };
}

/** What kind of folder is uploaded. */
export type UploadKind = 'fused' | 'adapter';

const SNAPSHOT = /models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\]([0-9a-f]{40})(?:[/\\]|$)/;

/** The base model a run's `model` names: a Hub id, a cache snapshot path, or a local folder. */
export function baseModelOf(model: string, env: NodeJS.ProcessEnv = process.env): BaseModel {
  const id = parseHubId(model);
  if (id) {
    if (id.revision !== undefined && COMMIT.test(id.revision)) return { repo: id.repo, revision: id.revision };
    // Only the cache folder is needed: read as offline so that no token is looked at.
    const cacheDir = hubEnv({ ...env, HF_HUB_OFFLINE: '1' }).cacheDir;
    const commit = cachedCommit(repoFolder(cacheDir, id.repo), id.revision ?? 'main');
    return { repo: id.repo, revision: commit ?? id.revision };
  }
  const m = SNAPSHOT.exec(model);
  if (m && parseHubId(`${m[1]}/${m[2]}`)) return { repo: `${m[1]}/${m[2]}`, revision: m[3] };
  return { local: basename(model.replace(/[/\\]+$/, '')) || model };
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function scoreOf(r: Pick<FormatRecord, 'score' | 'low' | 'high'> | undefined): ScoreFacts | undefined {
  return r && finite(r.score) && finite(r.low) && finite(r.high) ? { score: r.score, low: r.low, high: r.high } : undefined;
}

/** The facts of a finished run's manifest (run.json) that the card shows. */
export function factsFromManifest(m: RunManifest, env: NodeJS.ProcessEnv = process.env): RunFacts {
  const model = typeof m.model === 'string' && m.model !== '' ? m.model : typeof m.config?.model === 'string' ? m.config.model : undefined;
  const facts: RunFacts = {
    base: model ? baseModelOf(model, env) : undefined,
    suite: typeof m.suite === 'string' && m.suite !== '' ? basename(m.suite) : undefined,
    fineTuneType: typeof m.config?.fine_tune_type === 'string' ? m.config.fine_tune_type : undefined,
    iterations: finite(m.iterations) ? m.iterations : undefined,
    stopReason: typeof m.stopReason === 'string' ? m.stopReason : undefined,
    baseline: scoreOf(m.baseline),
  };
  const s = m.selected;
  if (s && typeof s === 'object' && s.checkpoint && finite(s.checkpoint.iteration)) {
    const c = s.checkpoint;
    const valLoss = finite(c.valLoss) ? c.valLoss : m.valLosses?.find((v) => v.iteration === c.iteration)?.loss;
    facts.selected = {
      iteration: c.iteration,
      metric: String(s.metric),
      rule: String(s.rule),
      reason: String(s.reason ?? ''),
      format: scoreOf(c.formatScore === undefined ? undefined : { score: c.formatScore, low: c.formatLow ?? Number.NaN, high: c.formatHigh ?? Number.NaN }),
      valLoss: finite(valLoss) ? valLoss : undefined,
    };
  }
  return facts;
}

/** Text from a run folder made safe for one line of Markdown (no line breaks; HTML as entities; table and emphasis syntax escaped). */
export function inlineText(text: string): string {
  return [...text]
    .map((c) => (c.charCodeAt(0) < 0x20 || c === '\x7f' ? ' ' : c))
    .join('')
    .replace(/ {2,}/g, ' ')
    .replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c)
    .replace(/[\\`*_[\]|#!]/g, (c) => `\\${c}`)
    .trim();
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const score = (s: ScoreFacts) => `${pct(s.score)} (95% interval ${pct(s.low)} to ${pct(s.high)})`;

/** The front matter's fields (the Hub reads library_name, base_model and tags). */
function frontMatter(kind: UploadKind, facts: RunFacts | undefined): Record<string, unknown> {
  const fm: Record<string, unknown> = { library_name: 'mlx' };
  if (facts?.base && 'repo' in facts.base) {
    fm.base_model = facts.base.repo;
    fm.base_model_relation = kind === 'adapter' ? 'adapter' : 'finetune';
  }
  const tuning = facts?.fineTuneType ?? 'lora';
  fm.tags = ['mlx', 'mlx-lab', tuning, ...(kind === 'adapter' ? ['adapter'] : [])];
  fm.pipeline_tag = 'text-generation';
  return fm;
}

function baseLine(base: BaseModel | undefined): string {
  if (!base) return 'not recorded';
  if ('local' in base) return `a local model folder, ${inlineText(base.local)} (not a Hub id)`;
  const link = `[${inlineText(base.repo)}](https://huggingface.co/${base.repo})`;
  return base.revision ? `${link} at revision \`${base.revision.replace(/`/g, '')}\`` : `${link} (revision not recorded)`;
}

function factRows(facts: RunFacts): string[] {
  const rows: [string, string][] = [['Base model', baseLine(facts.base)]];
  if (facts.fineTuneType) rows.push(['Fine-tuning', inlineText(facts.fineTuneType)]);
  rows.push(['Eval suite', facts.suite ? inlineText(facts.suite) : 'none (no format evals)']);
  const sel = facts.selected;
  if (sel?.format) rows.push(['Format score (selected step)', score(sel.format)]);
  if (facts.baseline) rows.push(['Format score (base, before training)', score(facts.baseline)]);
  if (sel?.valLoss !== undefined) rows.push(['Validation loss (selected step)', sel.valLoss.toFixed(4)]);
  if (sel) rows.push(['Selected step', `${sel.iteration} (${inlineText(sel.rule)} by ${inlineText(sel.metric)})`], ['Why', inlineText(sel.reason)]);
  if (facts.iterations !== undefined) rows.push(['Steps trained', `${facts.iterations}${facts.stopReason ? ` (stopped: ${inlineText(facts.stopReason)})` : ''}`]);
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)];
}

function usage(kind: UploadKind, repo: string, base: BaseModel | undefined): string[] {
  const baseArg = base && 'repo' in base ? base.repo : '<base model>';
  const lines =
    kind === 'fused'
      ? [`npx mlx-lab generate -m ${repo} -p "Hello"`, `mlx_lm.generate --model ${repo} --prompt "Hello"`]
      : [`npx mlx-lab generate -m ${baseArg} --adapter-path ${repo} -p "Hello"`, `mlx_lm.generate --model ${baseArg} --adapter-path ${repo} --prompt "Hello"`];
  return ['```sh', ...lines, '```'];
}

/** The model card: front matter, then what the run knows, then how to use the model. */
export function modelCard(options: { repo: string; kind: UploadKind; facts?: RunFacts }): string {
  const { repo, kind, facts } = options;
  const what = kind === 'fused' ? 'A model fine-tuned' : 'An adapter trained';
  const body = [
    `# ${inlineText(repo.split('/')[1] ?? repo)}`,
    '',
    `${what} with mlx-lab on MLX${kind === 'fused' ? ' (the adapter fused into its base)' : ''}.`,
    '',
    ...(facts ? factRows(facts) : ['No run record was given, so nothing is known here about its training or evals.']),
    '',
    '## Use',
    '',
    ...usage(kind, repo, facts?.base),
    '',
  ];
  return `---\n${stringify(frontMatter(kind, facts))}---\n\n${body.join('\n')}`;
}

/**
 * The MLflow sink, over MLflow's REST API (no client library): get or create the experiment,
 * create a run, log the config as params and the scalars as metrics with log-batch, upload the
 * artifacts through the server's artifact proxy when the run's artifact URI is
 * `mlflow-artifacts:` (`mlflow server` serves artifacts by default), and end the run with its
 * status. With any other artifact store (a local path, S3...) the REST API cannot upload: the
 * artifacts' local paths are logged as `mlx_lab.artifact.<name>` tags instead, as they are anyway.
 *
 * Settings come from the environment, as MLflow's own client reads them: MLFLOW_TRACKING_URI
 * (required, http or https), MLFLOW_EXPERIMENT_NAME (else the config's project_name, else
 * "mlx-lab"), MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
 */
import { readFile } from 'node:fs/promises';
import { MlxLabError } from '../../core/errors.js';
import { isPlainObject } from '../../core/suggest.js';
import type { Scalar } from './tfrecord.js';
import type { RunEnd, Sink } from './sink.js';

/** Where and as whom to report. */
export interface MlflowSettings {
  uri: string;
  experiment: string;
  headers: Record<string, string>;
}

/** log-batch's limits per request (MLflow's documented maxima). */
const MAX_METRICS = 1000;
const MAX_PARAMS = 100;
const MAX_PARAM_VALUE = 6000;
/** A request that takes longer than this fails (the sink is then dropped; training goes on). */
const REQUEST_TIMEOUT_MS = 30_000;

/** The MLflow settings from the environment; an E_CONFIG error when MLFLOW_TRACKING_URI is missing or not http(s). */
export function mlflowSettings(env: NodeJS.ProcessEnv, projectName: string | null): MlflowSettings {
  const raw = env.MLFLOW_TRACKING_URI?.trim();
  const hint = 'set it to the tracking server, e.g. MLFLOW_TRACKING_URI=http://127.0.0.1:5000 (start one with `mlflow server`)';
  if (!raw) throw new MlxLabError('E_CONFIG', `report_to: mlflow needs MLFLOW_TRACKING_URI: ${hint}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MlxLabError('E_CONFIG', `MLFLOW_TRACKING_URI ${JSON.stringify(raw)} is not a URL: ${hint}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MlxLabError('E_CONFIG', `MLFLOW_TRACKING_URI ${JSON.stringify(raw)}: mlx-lab reports to an MLflow server over http or https only (not ${url.protocol.replace(':', '')}); ${hint}`);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (env.MLFLOW_TRACKING_TOKEN) headers.authorization = `Bearer ${env.MLFLOW_TRACKING_TOKEN}`;
  else if (env.MLFLOW_TRACKING_USERNAME) headers.authorization = `Basic ${Buffer.from(`${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD ?? ''}`).toString('base64')}`;
  return { uri: raw.replace(/\/+$/, ''), experiment: env.MLFLOW_EXPERIMENT_NAME || projectName || 'mlx-lab', headers };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The path under the artifact proxy of an `mlflow-artifacts:` URI (its host part dropped); undefined for other stores. */
export function proxiedArtifactPath(artifactUri: string): string | undefined {
  if (!artifactUri.startsWith('mlflow-artifacts:')) return undefined;
  const rest = artifactUri.slice('mlflow-artifacts:'.length);
  const path = rest.startsWith('//') ? rest.slice(2).replace(/^[^/]*/, '') : rest;
  return path.replace(/^\/*/, '/').replace(/\/+$/, '');
}

export class MlflowSink implements Sink {
  readonly name = 'mlflow';
  runId: string | undefined;
  private artifactUri = '';

  constructor(
    private readonly settings: MlflowSettings,
    private readonly runName: string,
    private readonly params: readonly [string, string][],
  ) {}

  async open(): Promise<void> {
    const experimentId = await this.experimentId();
    const run = await this.call('POST', 'runs/create', {
      experiment_id: experimentId,
      start_time: Date.now(),
      run_name: this.runName,
      tags: [{ key: 'mlflow.runName', value: this.runName }, { key: 'mlflow.source.name', value: 'mlx-lab' }],
    });
    const info = isPlainObject(run.run) && isPlainObject(run.run.info) ? run.run.info : undefined;
    if (typeof info?.run_id !== 'string') throw this.badAnswer('runs/create', 'no run.info.run_id');
    this.runId = info.run_id;
    this.artifactUri = typeof info.artifact_uri === 'string' ? info.artifact_uri : '';
    const params = this.params.map(([key, value]) => ({ key: key.slice(0, 250), value: value.slice(0, MAX_PARAM_VALUE) }));
    for (const batch of chunks(params, MAX_PARAMS)) await this.call('POST', 'runs/log-batch', { run_id: this.runId, params: batch });
  }

  async write(scalars: readonly Scalar[]): Promise<void> {
    const metrics = scalars.map((s) => ({ key: s.tag, value: s.value, timestamp: Math.round(s.time), step: s.step }));
    for (const batch of chunks(metrics, MAX_METRICS)) await this.call('POST', 'runs/log-batch', { run_id: this.runId, metrics: batch });
  }

  async close(end: RunEnd): Promise<void> {
    const tags = end.artifacts.map((a) => ({ key: `mlx_lab.artifact.${a.name}`, value: a.path }));
    if (tags.length > 0) await this.call('POST', 'runs/log-batch', { run_id: this.runId, tags });
    const proxied = proxiedArtifactPath(this.artifactUri);
    if (proxied !== undefined) for (const a of end.artifacts) await this.upload(`${proxied}/${encodeURIComponent(a.name)}`, a.path);
    await this.call('POST', 'runs/update', { run_id: this.runId, status: end.status.toUpperCase(), end_time: Date.now() });
  }

  /** The id of the experiment named in the settings, created when it does not exist. */
  private async experimentId(): Promise<string> {
    const name = this.settings.experiment;
    const found = await this.call('GET', `experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`, undefined, true);
    const id = isPlainObject(found.experiment) ? found.experiment.experiment_id : undefined;
    if (typeof id === 'string') return id;
    const created = await this.call('POST', 'experiments/create', { name });
    if (typeof created.experiment_id !== 'string') throw this.badAnswer('experiments/create', 'no experiment_id');
    return created.experiment_id;
  }

  private async upload(path: string, file: string): Promise<void> {
    const url = `${this.settings.uri}/api/2.0/mlflow-artifacts/artifacts${path}`;
    const body = await readFile(file);
    const res = await this.fetch(url, { method: 'PUT', headers: { ...this.settings.headers, 'content-type': 'application/octet-stream' }, body });
    if (!res.ok) throw new MlxLabError('E_IO', `PUT ${url}: HTTP ${res.status} uploading ${file}: ${(await res.text()).slice(0, 200)}`);
  }

  /** One REST call; `missingOk`: a 404 RESOURCE_DOES_NOT_EXIST answers {}. */
  private async call(method: 'GET' | 'POST', endpoint: string, body?: unknown, missingOk = false): Promise<Record<string, unknown>> {
    const url = `${this.settings.uri}/api/2.0/mlflow/${endpoint}`;
    const res = await this.fetch(url, { method, headers: this.settings.headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (missingOk && res.status === 404 && isPlainObject(json) && json.error_code === 'RESOURCE_DOES_NOT_EXIST') return {};
    if (!res.ok) throw new MlxLabError('E_IO', `${method} ${url}: HTTP ${res.status}: ${text.slice(0, 200) || '(empty answer)'}`);
    if (!isPlainObject(json)) throw this.badAnswer(endpoint, `not a JSON object: ${JSON.stringify(text.slice(0, 100))}`);
    return json;
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new MlxLabError('E_IO', `${init.method} ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message} (is the MLflow server at MLFLOW_TRACKING_URI up?)`, { cause: err });
    }
  }

  private badAnswer(endpoint: string, what: string): MlxLabError {
    return new MlxLabError('E_IO', `${this.settings.uri}/api/2.0/mlflow/${endpoint}: the answer is not MLflow's (${what})`);
  }
}

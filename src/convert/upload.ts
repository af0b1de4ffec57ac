/**
 * Uploading a fused model folder or an adapter folder to the Hugging Face Hub with a model card
 * carrying what the run knows (see model-card.ts). A dry run by default: the plan (files, sizes,
 * the card) is returned and nothing is sent. With `yes`, HF_TOKEN is required; the repo is
 * created when it does not exist, and everything goes in one commit through @huggingface/hub
 * (its preupload, LFS and commit endpoints). Every check on the folder, the repo id and the run
 * comes before the first request.
 */
import { openAsBlob } from 'node:fs';
import { resolve } from 'node:path';
import { HubApiError, createRepo, repoExists, uploadFiles } from '@huggingface/hub';
import { MlxLabError } from '../core/errors.js';
import { hubEnv } from '../hub/env.js';
import { parseHubId } from '../hub/id.js';
import { RunDir } from '../run/run-dir.js';
import { factsFromManifest, modelCard, type RunFacts, type UploadKind } from './model-card.js';
import { collectFiles, type LocalFile, type SkippedFile } from './upload-files.js';

export type { LocalFile, SkippedFile } from './upload-files.js';

export interface UploadOptions {
  /** The fused model folder or the adapter (run) folder to upload. */
  path: string;
  /** The Hub repo, `user/name` or `org/name` (no revision). */
  repo: string;
  /** The run folder to take the card's facts from (default: `path` when it holds run.json). */
  run?: string;
  /** Upload for real (default: a dry run that sends nothing). */
  yes?: boolean;
  /** Create the repo private (when it does not exist yet). */
  private?: boolean;
  /** Upload secret-looking files too (.env, keys, *token*, files holding an hf_ token). */
  includeSecrets?: boolean;
  /** The commit title. */
  message?: string;
  /** The environment (HF_TOKEN, HF_ENDPOINT; default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Stops the upload (E_ABORTED); the commit is one request, so the repo gets all of it or none. */
  signal?: AbortSignal;
}

/** What would be (or was) uploaded. */
export interface UploadPlan {
  repo: string;
  kind: UploadKind;
  path: string;
  /** The files from the folder (README.md, the card, comes on top). */
  files: LocalFile[];
  skipped: SkippedFile[];
  /** The model card uploaded as README.md. */
  card: string;
  /** The run facts in the card (undefined: no run record). */
  facts?: RunFacts;
  /** The run folder they came from. */
  run?: string;
  /** Bytes of the files and the card. */
  totalSize: number;
}

export interface UploadResult extends UploadPlan {
  /** False for a dry run: nothing was sent. */
  uploaded: boolean;
  /** The repo was created by this upload. */
  created?: boolean;
  /** The commit made. */
  commit?: { oid: string; url: string };
}

/** The repo id, checked: `user/name` as the Hub spells repo ids. */
function checkRepo(repo: string): string {
  const id = parseHubId(repo);
  if (!id || id.revision !== undefined) {
    throw new MlxLabError('E_ARGUMENT', `--repo ${JSON.stringify(repo)}: not a Hub repo id (user/name: letters, digits, "-", "_", "."; no revision)`);
  }
  return id.repo;
}

/** The run folder whose run.json feeds the card: `run`, else `path` when it is a finished run. */
function runFacts(path: string, run: string | undefined, env: NodeJS.ProcessEnv): { facts?: RunFacts; run?: string } {
  const dir = new RunDir(resolve(run ?? path));
  if (run === undefined && !dir.hasManifest()) return {};
  return { facts: factsFromManifest(dir.readManifest(), env), run: dir.path };
}

/** What an upload would send (no request): the files, what is left out and why, and the card. */
export function planUpload(options: UploadOptions): UploadPlan {
  const repo = checkRepo(options.repo);
  const env = options.env ?? process.env;
  const { kind, files, skipped } = collectFiles(options.path, { includeSecrets: options.includeSecrets });
  const { facts, run } = runFacts(options.path, options.run, env);
  const card = modelCard({ repo, kind, facts });
  const totalSize = files.reduce((s, f) => s + f.size, Buffer.byteLength(card));
  return { repo, kind, path: resolve(options.path), files, skipped, card, facts, run, totalSize };
}

/** Why the Hub refused a write, in the user's terms. */
function writeError(err: unknown, repo: string, endpoint: string): MlxLabError {
  if (err instanceof MlxLabError) return err;
  if (err instanceof HubApiError) {
    const advice =
      err.statusCode === 401 || err.statusCode === 403
        ? 'HF_TOKEN has no write access to it: use a token with write access (https://huggingface.co/settings/tokens)'
        : `the Hub answered: ${err.message}`;
    return new MlxLabError('E_HUB', `${repo}: upload: HTTP ${err.statusCode} from ${err.url}: ${advice}`, { cause: err });
  }
  const msg = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}` : String(err);
  return new MlxLabError('E_HUB', `${repo}: upload: cannot reach ${endpoint}: ${msg}`, { cause: err });
}

/**
 * Upload a fused model or an adapter folder with its model card (see UploadOptions). Without
 * `yes` nothing is sent and the plan is returned (`uploaded: false`).
 */
export async function uploadToHub(options: UploadOptions): Promise<UploadResult> {
  const plan = planUpload(options);
  if (!options.yes) return { ...plan, uploaded: false };
  const env = hubEnv(options.env ?? process.env);
  if (env.offline) throw new MlxLabError('E_HUB', `${plan.repo}: HF_HUB_OFFLINE is set, so nothing is uploaded: unset it to upload`);
  if (!env.token) {
    throw new MlxLabError('E_HUB', `${plan.repo}: uploading needs a token with write access: set HF_TOKEN (https://huggingface.co/settings/tokens)`);
  }
  const common = { repo: { type: 'model' as const, name: plan.repo }, hubUrl: env.endpoint, accessToken: env.token, fetch: options.fetch };
  try {
    options.signal?.throwIfAborted();
    const exists = await repoExists(common);
    if (!exists) await createRepo({ ...common, visibility: options.private ? 'private' : undefined });
    const files = [
      { path: 'README.md', content: new Blob([plan.card]) },
      ...(await Promise.all(plan.files.map(async (f) => ({ path: f.path, content: await openAsBlob(f.source) })))),
    ];
    const title = options.message ?? `Upload ${plan.kind === 'fused' ? 'fused model' : 'adapter'} with mlx-lab`;
    options.signal?.throwIfAborted();
    const out = await uploadFiles({ ...common, files, commitTitle: title, abortSignal: options.signal });
    return { ...plan, uploaded: true, created: !exists, commit: out?.commit };
  } catch (err) {
    if (options.signal?.aborted) throw new MlxLabError('E_ABORTED', `${plan.repo}: upload interrupted; no commit was made`, { cause: err });
    throw writeError(err, plan.repo, env.endpoint);
  }
}

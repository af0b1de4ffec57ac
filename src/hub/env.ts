/**
 * The environment variables of huggingface_hub that mlx-lab honours, read at each call (so a
 * test or a script can set them): HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MlxLabError } from '../core/errors.js';

/** Where and how to reach the Hub and its cache. */
export interface HubEnv {
  /** The hub cache folder (models--org--name/ lie in it). */
  cacheDir: string;
  /** The Hub's base URL, without a trailing slash. */
  endpoint: string;
  /** The access token (HF_TOKEN, else the token file huggingface-cli login writes), if any. */
  token: string | undefined;
  /** HF_HUB_OFFLINE: no request at all, the cache only. */
  offline: boolean;
}

/** HF_HOME, or $XDG_CACHE_HOME/huggingface, or ~/.cache/huggingface (as huggingface_hub). */
function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
}

/** Whether an environment flag is on, with huggingface_hub's spellings (1, true, yes, on). */
function flag(value: string | undefined): boolean {
  return ['1', 'true', 'yes', 'on'].includes((value ?? '').trim().toLowerCase());
}

/** The token: HF_TOKEN, else the file at HF_TOKEN_PATH or HF_HOME/token. */
function token(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.HF_TOKEN?.trim();
  if (fromEnv) return checkToken(fromEnv, 'HF_TOKEN');
  const file = env.HF_TOKEN_PATH || join(hfHome(env), 'token');
  if (!existsSync(file)) return undefined;
  const fromFile = readFileSync(file, 'utf8').trim();
  return fromFile ? checkToken(fromFile, file) : undefined;
}

/** A token must have the Hub's shape (hf_...); the client refuses others. */
function checkToken(value: string, where: string): string {
  if (!value.startsWith('hf_')) throw new MlxLabError('E_ARGUMENT', `${where}: a Hugging Face token starts with "hf_" (make one at https://huggingface.co/settings/tokens)`);
  return value;
}

/** The Hub settings from the environment (process.env by default). */
export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const endpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(endpoint)) throw new MlxLabError('E_ARGUMENT', `HF_ENDPOINT: "${endpoint}" is not an http(s) URL`);
  const offline = flag(env.HF_HUB_OFFLINE);
  return {
    cacheDir: env.HF_HUB_CACHE || join(hfHome(env), 'hub'),
    endpoint,
    token: offline ? undefined : token(env),
    offline,
  };
}

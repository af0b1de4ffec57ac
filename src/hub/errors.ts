/** Hub failures as MlxLabError E_HUB, with the URL and what to do (a token, the network, the id). */
import { HubApiError } from '@huggingface/hub';
import { MlxLabError } from '../core/errors.js';

/** What every request of one resolution needs. */
export interface HubRequest {
  repo: string;
  /** The kind of repo (default a model). */
  type?: 'model' | 'dataset';
  /** The revision asked for, then the commit it resolved to. */
  commit: string;
  endpoint: string;
  token: string | undefined;
  fetch: typeof fetch;
}

/** Why the Hub refused, in the user's terms. */
function statusAdvice(status: number, hasToken: boolean): string {
  if (status === 401 || status === 403) {
    return hasToken
      ? 'HF_TOKEN was sent but has no access: accept the repo\'s terms on its Hub page or use a token with read access'
      : 'the repo is gated or private, or does not exist: set HF_TOKEN to a token with read access (https://huggingface.co/settings/tokens)';
  }
  if (status === 404) return 'no such repo, revision or file';
  return 'the Hub answered with an error';
}

/** An E_HUB error for a failure while fetching `what` of `req.repo`. */
export function hubError(err: unknown, req: HubRequest, what: string): MlxLabError {
  if (err instanceof MlxLabError) return err;
  if (err instanceof HubApiError) {
    return new MlxLabError('E_HUB', `${req.repo}: ${what}: HTTP ${err.statusCode} from ${err.url}: ${statusAdvice(err.statusCode, req.token !== undefined)}`, { cause: err });
  }
  const msg = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}` : String(err);
  return new MlxLabError('E_HUB', `${req.repo}: ${what}: cannot reach ${req.endpoint}: ${msg} (set HF_HUB_OFFLINE=1 to use the cache only)`, { cause: err });
}

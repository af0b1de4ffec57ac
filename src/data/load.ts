/**
 * The one entry from a config's data settings to loaded splits: `hf_dataset` when set (as
 * mlx-lm, it wins over `data`), else `data` as a local folder or file when it exists, else as a
 * Hub dataset id (`org/name[@revision]`).
 */
import { existsSync } from 'node:fs';
import { MlxLabError } from '../core/errors.js';
import type { TrainConfig } from '../config/config.js';
import { parseHubId } from '../hub/id.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { dataOptionsFromConfig, loadData, type DataSplits } from './dataset.js';
import { loadHfDatasets, loadHubDataset, type HubDataOptions } from './hub-data.js';

/** The config keys that say where the data is and how to read it. */
export type DataConfig = Pick<TrainConfig, 'data' | 'hf_dataset' | 'mask_prompt' | 'prompt_feature' | 'completion_feature' | 'chat_feature' | 'text_feature'>;

/** A data argument: a local folder or JSONL file when it exists, else a Hub dataset id (else loadData's not-found error). */
export async function loadDataArg(arg: string, tokenizer: Tokenizer, options: HubDataOptions = {}): Promise<DataSplits> {
  if (!existsSync(arg) && parseHubId(arg)) return loadHubDataset(arg, tokenizer, options);
  return loadData(arg, tokenizer, options);
}

/** The splits a config names (hf_dataset, else data), read with its mask_prompt and feature keys. */
export async function loadConfiguredData(config: DataConfig, tokenizer: Tokenizer, options: HubDataOptions = {}): Promise<DataSplits> {
  const opts = { ...dataOptionsFromConfig(config), ...options };
  if (config.hf_dataset) {
    const entries = config.hf_dataset;
    for (const [i, e] of entries.entries()) {
      if (e.mask_prompt !== null && e.mask_prompt !== undefined && e.mask_prompt !== config.mask_prompt) {
        throw new MlxLabError('E_CONFIG', `hf_dataset[${i}].mask_prompt: ${e.mask_prompt} differs from mask_prompt (${config.mask_prompt}); mlx-lm uses the top-level mask_prompt for every dataset, so set it there`);
      }
    }
    return loadHfDatasets(entries, tokenizer, opts);
  }
  if (config.data === null) throw new MlxLabError('E_CONFIG', 'data: required (a data folder, a JSONL file, or a Hub dataset id org/name; or set hf_dataset)');
  return loadDataArg(config.data, tokenizer, opts);
}

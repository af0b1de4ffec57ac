/**
 * Datasets by Hub id: `data: org/name[@revision]` (its train / validation / test splits by file
 * name, as mlx-lm's load_hf_dataset) and mlx-lm's `hf_dataset` entries (`path`, `train_split`,
 * `valid_split`, `test_split`, the `*_feature` keys, `config: {name}` for a subset). The repo is
 * resolved through the Hub cache (src/hub/), its JSONL, JSON and Parquet files read into records,
 * and the records tokenized as local JSONL is (same formats, same masking).
 */
import { join } from 'node:path';
import { MlxLabError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import { suggest } from '../core/suggest.js';
import { dataFilesIn } from '../hub/kinds.js';
import { formatHubId, parseHubId, type HubId } from '../hub/id.js';
import { resolveDatasetPath, type HubOptions } from '../hub/resolve.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { Dataset, datasetFromRecords, type DataSplits, type LoadDataOptions } from './dataset.js';
import { DEFAULT_FEATURES, detectFormat, type FeatureKeys } from './formats.js';
import { canonicalSplit, parseSplit, sliceRange, splitOfFile } from './hub-splits.js';
import { parseJsonl, readJsonl, type JsonlRecord } from './jsonl.js';
import { readParquet } from './parquet.js';

/** One `hf_dataset` entry, with mlx-lm's key names. */
export interface HfDatasetEntry {
  path: string;
  train_split?: string | null;
  valid_split?: string | null;
  test_split?: string | null;
  prompt_feature?: string | null;
  completion_feature?: string | null;
  chat_feature?: string | null;
  text_feature?: string | null;
  /** Arguments of `datasets.load_dataset`; mlx-lab honours `name` (the subset). */
  config?: { name?: string | null } | null;
}

/** Options of the Hub dataset loaders. */
export interface HubDataOptions extends LoadDataOptions {
  /** How to reach the Hub and its cache (environment, fetch, progress). */
  hub?: HubOptions;
}

/** A dataset repo in the cache: its id, snapshot folder and data files (relative paths). */
interface Snapshot {
  label: string;
  dir: string;
  files: string[];
}

/** The parsed id of `path`; E_CONFIG naming `key` when it is not `org/name[@revision]`. */
function datasetId(path: string, key: string): HubId {
  const id = parseHubId(path);
  if (!id) throw new MlxLabError('E_CONFIG', `${key}: "${path}" is not a Hub dataset id (org/name or org/name@revision)`);
  return id;
}

/** Resolve a dataset id and list its data files, restricted to a subset's folder when named. */
async function snapshot(id: HubId, subset: string | null | undefined, options: HubDataOptions): Promise<Snapshot> {
  const label = formatHubId(id);
  const dir = await resolveDatasetPath(id, options.hub);
  let files = dataFilesIn(dir);
  if (subset) {
    const inSubset = files.filter((f) => f.split('/').slice(0, -1).includes(subset));
    if (inSubset.length === 0) {
      const folders = [...new Set(files.flatMap((f) => f.split('/').slice(0, -1)))];
      const guess = suggest(subset, folders);
      throw new MlxLabError('E_DATA', `${label}: no subset "${subset}" (config.name): no data file in a folder of that name${guess ? `; did you mean "${guess}"?` : ''} (folders: ${folders.join(', ') || 'none'})`);
    }
    files = inSubset;
  }
  return { label, dir, files };
}

/** The records of one data file (`.parquet`, `.jsonl`, or `.json`: an array of objects, or JSON lines). */
async function readRecords(path: string): Promise<JsonlRecord[]> {
  if (path.endsWith('.parquet')) return readParquet(path);
  if (path.endsWith('.json')) {
    const text = readRegularFile(path, 'utf8').replace(/^\uFEFF/, '');
    if (text.trimStart().startsWith('[')) {
      let rows: unknown;
      try {
        rows = JSON.parse(text);
      } catch (err) {
        throw new MlxLabError('E_DATA', `${path}: invalid JSON (${(err as Error).message})`, { cause: err });
      }
      // one object per line of a JSONL text, so the records are checked as JSONL's are
      return parseJsonl((rows as unknown[]).map((r) => JSON.stringify(r)).join('\n'), path);
    }
    return parseJsonl(text, path);
  }
  return readJsonl(path);
}

/** The split names the files of a snapshot hold. */
function splitsIn(snap: Snapshot): string[] {
  return [...new Set(snap.files.map(splitOfFile))];
}

/** The records of a split expression (undefined when no file holds the split and it is `optional`). */
async function splitRecords(snap: Snapshot, expr: string, key: string, optional: boolean): Promise<JsonlRecord[] | undefined> {
  const spec = parseSplit(expr, key);
  const files = snap.files.filter((f) => canonicalSplit(splitOfFile(f)) === canonicalSplit(spec.split));
  if (files.length === 0) {
    if (optional) return undefined;
    const present = splitsIn(snap);
    const guess = suggest(spec.split, present);
    throw new MlxLabError('E_DATA', `${snap.label}: no split "${spec.split}" (${key})${guess ? `; did you mean "${guess}"?` : ''} (splits: ${present.join(', ')})`);
  }
  const records: JsonlRecord[] = [];
  for (const file of files) {
    for (const r of await readRecords(join(snap.dir, file))) records.push({ ...r, source: `${snap.label}/${file}` });
  }
  const [start, end] = sliceRange(spec, records.length);
  const picked = records.slice(start, end);
  if (picked.length === 0) throw new MlxLabError('E_DATA', `${snap.label}: split "${expr}" (${key}) selects no examples (${records.length} in ${spec.split})`);
  return picked;
}

/** E_DATA naming the dataset, split and feature when a set feature is not a column (with did-you-mean), or when no format matches. */
function checkFeatures(records: JsonlRecord[], where: string, features: FeatureKeys, explicit: readonly (keyof FeatureKeys)[]): void {
  const first = records[0].value;
  const columns = Object.keys(first);
  const missing = (key: keyof FeatureKeys) => {
    const guess = suggest(features[key], columns);
    return `no feature "${features[key]}" (${key}_feature)${guess ? `; did you mean "${guess}"?` : ''}; the columns are ${columns.join(', ') || 'none'}`;
  };
  for (const key of explicit) if (!(features[key] in first)) throw new MlxLabError('E_DATA', `${where}: ${missing(key)}`);
  if (detectFormat(first, features) === undefined) {
    throw new MlxLabError('E_DATA', `${where}: no column for any format: expected "${features.chat}" (chat), "${features.prompt}" and "${features.completion}" (completions) or "${features.text}" (text); the columns are ${columns.join(', ') || 'none'} (set prompt_feature, completion_feature, chat_feature or text_feature)`);
  }
}

/** Tokenize the records of one split. */
function tokenize(records: JsonlRecord[], source: string, tokenizer: Tokenizer, options: HubDataOptions, explicit: readonly (keyof FeatureKeys)[]): Dataset {
  const features = { ...DEFAULT_FEATURES, ...options.features };
  checkFeatures(records, source, features, explicit);
  return datasetFromRecords(records, source, tokenizer, options);
}

/** `data: org/name[@revision]`: the dataset's train, validation and test splits by file name (a missing one is null, as local data). */
export async function loadHubDataset(arg: string, tokenizer: Tokenizer, options: HubDataOptions = {}): Promise<DataSplits> {
  const snap = await snapshot(datasetId(arg, 'data'), undefined, options);
  const load = async (split: string, required: boolean) => {
    const records = await splitRecords(snap, split, 'data', !required);
    return records ? tokenize(records, `${snap.label} split ${split}`, tokenizer, options, []) : null;
  };
  return {
    path: arg,
    train: await load('train', options.requireTrain ?? true),
    valid: await load('validation', false),
    test: await load('test', options.requireTest ?? false),
  };
}

/** The feature keys an entry sets over the config's (`options.features`), and which it names. */
function entryFeatures(entry: HfDatasetEntry, options: HubDataOptions): { options: HubDataOptions; explicit: (keyof FeatureKeys)[] } {
  const set: Partial<FeatureKeys> = {};
  for (const key of ['prompt', 'completion', 'chat', 'text'] as const) {
    const v = entry[`${key}_feature`];
    if (typeof v === 'string') set[key] = v;
  }
  return { options: { ...options, features: { ...options.features, ...set } }, explicit: Object.keys(set) as (keyof FeatureKeys)[] };
}

/** One hf_dataset entry's splits (train `train[:80%]` and valid `train[-10%:]` by default, as mlx-lm; test only when required). */
async function loadEntry(entry: HfDatasetEntry, index: number, tokenizer: Tokenizer, options: HubDataOptions): Promise<DataSplits> {
  const key = `hf_dataset[${index}]`;
  const snap = await snapshot(datasetId(entry.path, `${key}.path`), entry.config?.name, options);
  const { options: opts, explicit } = entryFeatures(entry, options);
  const load = async (expr: string, split: string) => {
    const records = (await splitRecords(snap, expr, `${key}.${split}`, false)) as JsonlRecord[];
    return tokenize(records, `${snap.label} split ${expr}`, tokenizer, opts, explicit);
  };
  let test: Dataset | null = null;
  if (options.requireTest) {
    if (!entry.test_split) throw new MlxLabError('E_CONFIG', `${key}.test_split: needed to evaluate on the test set (e.g. test_split: test)`);
    test = await load(entry.test_split, 'test_split');
  }
  return { path: entry.path, train: await load(entry.train_split ?? 'train[:80%]', 'train_split'), valid: await load(entry.valid_split ?? 'train[-10%:]', 'valid_split'), test };
}

/** Examples of several datasets as one (mlx-lm concatenates hf_dataset entries); the first one's format. */
function concat(sets: (Dataset | null)[]): Dataset | null {
  const present = sets.filter((s): s is Dataset => s !== null);
  if (present.length <= 1) return present[0] ?? null;
  return new Dataset(present.map((s) => s.source).join(' + '), present[0].format, present.flatMap((s) => s.examples));
}

/** mlx-lm's `hf_dataset` (one entry or a list, concatenated split by split). */
export async function loadHfDatasets(entries: HfDatasetEntry | readonly HfDatasetEntry[], tokenizer: Tokenizer, options: HubDataOptions = {}): Promise<DataSplits> {
  const list = Array.isArray(entries) ? (entries as readonly HfDatasetEntry[]) : [entries as HfDatasetEntry];
  const loaded: DataSplits[] = [];
  for (const [i, entry] of list.entries()) loaded.push(await loadEntry(entry, i, tokenizer, options));
  return {
    path: list.map((e) => e.path).join(' + '),
    train: concat(loaded.map((d) => d.train)),
    valid: concat(loaded.map((d) => d.valid)),
    test: concat(loaded.map((d) => d.test)),
  };
}

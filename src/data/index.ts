/** Training data: mlx-lm's JSONL formats, tokenization, batching (see each module's comment). */
export { parseJsonl, readJsonl, type JsonlRecord } from './jsonl.js';
export {
  DATA_FORMATS,
  DEFAULT_FEATURES,
  ExampleEncoder,
  detectFormat,
  formatKeys,
  vocabHasThinking,
  type DataFormat,
  type DataOptions,
  type EncodedExample,
  type FeatureKeys,
} from './formats.js';
export {
  Dataset,
  SPLIT_NAMES,
  dataOptionsFromConfig,
  datasetFromRecords,
  loadData,
  loadDatasetFile,
  parseDataset,
  type DataSplits,
  type Example,
  type LoadDataOptions,
  type SplitName,
} from './dataset.js';
export {
  BatchIterator,
  PAD_ID,
  PAD_TO,
  batchCount,
  evalBatchCount,
  evalBatches,
  makeBatch,
  sortedBatchIndices,
  type Batch,
  type BatchIteratorOptions,
  type BatchIteratorState,
  type BatchOptions,
  type EvalBatchOptions,
  type SortBy,
} from './batches.js';
export { loadHfDatasets, loadHubDataset, type HfDatasetEntry, type HubDataOptions } from './hub-data.js';
export { loadConfiguredData, loadDataArg, type DataConfig } from './load.js';
export { readParquet } from './parquet.js';
export { Mt19937, type Mt19937State } from './random.js';
export {
  DEFAULT_PREFERENCE_KEYS,
  PairEncoder,
  PreferenceDataset,
  loadPreferenceData,
  makePreferenceBatch,
  preferenceFromRecords,
  type PreferenceBatch,
  type PreferenceKeys,
  type PreferencePair,
  type PreferenceSplits,
} from './preference.js';

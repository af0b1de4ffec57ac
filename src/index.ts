/** mlx-lab's library API: load models, generate, and (in later modules) train, eval, fuse. */
export { MlxLabError, type ErrorCode } from './errors.js';
export { loadModel, Model } from './model.js';
export type { Generation, GenerateOptions, PromptInput, SamplingOptions, StreamChunk, LoadOptions, ChatMessage } from './model.js';
export { parseModelConfig, readModelFolder, type ModelConfig } from './model-config.js';
export { Tokenizer } from './tokenizer.js';
export { runtime, memory } from './runtime.js';
export { train, trainerOptions, type TrainOptions, type TrainResult, type TrainEvent, type TrainCallbacks, type TrainContext, type StopRequest } from './train/loop.js';
export { listCheckpoints, findLatestCheckpoint, type Checkpoint } from './train/checkpoints.js';
export { defaultTrainConfig, loadTrainConfig, parseTrainConfig, mergeConfig, validateTrainConfig, type TrainConfig } from './config.js';
export { loadData, Dataset, BatchIterator, evalBatches, type Batch, type DataSplits } from './data/index.js';
export { runExperiment, reselect, readManifest, type ExperimentOptions, type ExperimentResult, type RunManifest, type FormatRecord } from './experiment.js';
export { runEval, type EvalOptions, type EvalResult, type CaseResult } from './eval/runner.js';
export { loadSuite, parseSuite, scoreCase, registerScorer, loadScorerFile, summarizeScores, wilsonInterval, type EvalSuite, type EvalCase, type ScoreResult, type FailureClass } from './eval/index.js';
export { attachAdapter, type AttachedAdapter } from './adapters.js';
export { EarlyStopper } from './select/early-stopping.js';
export { selectCheckpoint, type Selection, type CheckpointScores } from './select/selection.js';
export * from './sweep/index.js';
export { lintSuiteAgainstData, readTrainingRecords, formatLintWarnings, type LintWarning } from './eval/lint.js';

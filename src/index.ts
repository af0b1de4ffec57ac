/**
 * mlx-lab's library API: load models, generate, train, eval, sweep, fuse and convert. Only what
 * a user calls or names is exported here (test/unit/exports.test.ts pins the runtime names);
 * native handles and internal helpers stay inside the package. The type-only exports are the
 * types that the public functions take and return, so that a user can name them.
 */
export { MlxLabError, ERROR_CODES, isErrorCode, type ErrorCode } from './core/errors.js';
export { loadModel, Model } from './model/model.js';
export { PromptCache, type SavePromptCacheOptions } from './model/prompt-cache.js';
export { ChatSession, type ChatInput, type ChatReply, type ChatSessionOptions, type ChatTurnOptions } from './model/chat-session.js';
export type { LoadPromptCacheOptions, PrefixInput } from './model/model.js';
export type { GeneratedTokenLogprob, Generation, GenerationFinish, LogitBias, TokenLogprob, GenerationStream, GenerateOptions, PromptInput, SamplingOptions, StreamChunk, LoadOptions, ChatMessage } from './model/model.js';
export type { ChatOptions, ChatTemplate, ToolCall, ToolSchema } from './model/chat.js';
export type { ComputeMode, ComputeReport, FinishReason, NativeBlasInfo, NativeLoraConfig, NativeQuantSpec, NativeSavedWeights } from './core/native.js';
export { parseModelConfig, readModelFolder, type ModelConfig } from './model/config.js';
export type { ModelType, QuantSpec, RopeScaling } from './core/model-types.js';
export { Tokenizer } from './model/tokenizer.js';
export type { AddedTokenJSON, DecodeOptions, EncodeOptions, GenerationConfig, SpecialTokenName, StreamDecoder, TokenSpec, TokenizerConfig, TokenizerJSON, TokenizerSource } from './model/tokenizer.js';
export { runtime, memory, type RuntimeInfo } from './core/runtime.js';
export { train, type TrainOptions, type TrainResult, type TrainEvent, type FormatEvent, type FusedEvent, type ConstrainedEvent, type TrainCallbacks, type TrainContext, type StopRequest, type StopReason, type Hook } from './train/loop.js';
export { listCheckpoints, findLatestCheckpoint, type Checkpoint } from './train/checkpoints.js';
export type { GrpoRollout, RolloutBatch, RolloutStats } from './train/grpo.js';
export { defaultTrainConfig, loadTrainConfig, parseTrainConfig, mergeConfig, validateTrainConfig, type TrainConfig } from './config/config.js';
export type {
  ConfigLocator,
  EarlyStoppingConfig,
  EvalConfig,
  FineTuneType,
  LoraParameters,
  LrSchedule,
  LrScheduleName,
  Metric,
  OptimizerConfig,
  OptimizerName,
  OptimizerOptions,
  SelectionConfig,
  SelectionRule,
  SweepConfig,
} from './config/config.js';
export { loadData, loadDataArg, loadConfiguredData, loadHfDatasets, Dataset, BatchIterator, evalBatches, type Batch, type DataSplits } from './data/index.js';
export type { BatchIteratorOptions, BatchIteratorState, BatchOptions, DataFormat, DataOptions, EvalBatchOptions, Example, FeatureKeys, HfDatasetEntry, HubDataOptions, JsonlRecord, LoadDataOptions, SortBy } from './data/index.js';
export { suiteRollout, minePairs, writePairs, type MineOptions, type MinedPair, type MineSummary } from './rl/index.js';
export { loadPreferenceData, PreferenceDataset, type PreferencePair, type PreferenceKeys, type PreferenceSplits } from './data/index.js';
export { runExperiment, reselect, readManifest, logFusedEval, logConstrainedCompare, type ExperimentOptions, type ExperimentResult, type FusedModelInfo, type RunManifest, type FormatRecord } from './run/experiment.js';
export { runEval, type EvalOptions, type EvalResult, type CaseResult } from './eval/runner.js';
export { compareConstrained, type ConstraintComparison, type CaseComparison } from './eval/compare.js';
export { suiteConstraints, type CaseConstraint, type ConstraintKind } from './eval/constraint.js';
export { loadSuite, parseSuite, scoreCase, registerScorer, loadScorerFile, summarizeScores, wilsonInterval, type EvalSuite, type EvalCase, type ScoreResult, type FailureClass } from './eval/index.js';
export type { CaseScore, CategorySummary, Interval, MeanSummary, ScoreSummary } from './eval/stats.js';
export type { Scorer, ScorerInput, ScorerOutput } from './eval/scorers.js';
export { checkGrammarText, type GrammarOption } from './model/grammar.js';
export { parseToolCalls, detectToolFormat, type CallError, type CallFormat, type ParsedCall, type ToolFormat, type ToolCallParse } from './model/tool-calls/index.js';
export type { Expectation } from './eval/suite-types.js';
export type { SandboxLimits } from './eval/sandbox.js';
export { attachAdapter, type AttachedAdapter } from './model/adapters.js';
export { EarlyStopper, type StopDecision } from './select/early-stopping.js';
export { selectCheckpoint, type Selection, type CheckpointScores } from './select/selection.js';
export {
  runSweep,
  planSweep,
  lockThresholdOf,
  summarizeRun,
  summarizeRuns,
  DEFAULT_LOCK_THRESHOLD,
  type SweepEvent,
  type SweepOptions,
  type SweepResult,
  type SweepRunPlan,
  type PlanOptions,
  type EvalPoint,
  type LockSummary,
  type RunStatus,
  type SweepDistributions,
  type SweepGroup,
  type SweepReport,
  type SweepRunSummary,
  type Distribution,
} from './sweep/index.js';
export { lintSuiteAgainstData, readTrainingRecords, formatLintWarnings, type LintWarning, type LintCode, type LintOptions, type TrainingRecords } from './eval/lint.js';
export { fuse, type FuseOptions, type FuseProgress, type SavedModelFolder } from './convert/fuse.js';
export { planUpload, uploadToHub, type UploadOptions, type UploadPlan, type UploadResult, type LocalFile, type SkippedFile } from './convert/upload.js';
export { modelCard, type RunFacts, type BaseModel, type ScoreFacts, type UploadKind } from './convert/model-card.js';
export { convert, type ConvertOptions } from './convert/convert.js';
export { joinGroup, SINGLE, type Group } from './distributed/group.js';
export { launch, type LaunchOptions, type LaunchResult } from './distributed/launcher.js';
export { readHosts, parseHostFile, localHosts, type Host, type HostFile } from './distributed/hosts.js';
export type { KernelChoice } from './core/blas-kernel.js';
export type { Mt19937State } from './data/random.js';

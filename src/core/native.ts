/**
 * The single loader of the native addon (node-gyp-build: prebuilds/ first, then build/Release)
 * and the typed surface of what it exports. Nothing else imports the addon.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { applyKernelChoice } from './blas-kernel.js';
import { MlxLabError } from './errors.js';
import type { ModelConfig } from './model-types.js';

export interface NativeArray {
  data: Float32Array | Int32Array;
  shape: number[];
}

/** How the next token is drawn (mlx-lm's sampler settings). */
export interface SamplingOptions {
  /** 0 (default) is greedy. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  repetitionContext?: number;
  seed?: number;
}

export interface NativeGenerateRequest extends SamplingOptions {
  prompts: Int32Array[] | number[][];
  maxTokens?: number;
  eosIds?: number[];
  prefillStep?: number;
  /** Prefill the prompts' common leading tokens once when there are at least this many (0: off). Default 32. */
  minSharedPrefix?: number;
  /** One grammar per prompt (null: free); needs grammarVocab. */
  grammars?: (NativeGrammar | null)[];
  grammarVocab?: NativeGrammarVocab;
  /** Additive logit bias: ids and values of the same length (src/model/sampling-options.ts lays them out). */
  logitBiasIds?: Int32Array;
  logitBiasValues?: Float32Array;
  /** k >= 0: each token's log-probability and the k most likely alternatives (undefined: none). */
  logprobs?: number;
  /** XTC sampling (mlx-lm's xtc_probability, xtc_threshold, xtc_special_tokens). */
  xtcProbability?: number;
  xtcThreshold?: number;
  xtcSpecialTokens?: Int32Array;
  /** Start from this cache's keys and values for the leading tokens the prompts share with it (left unchanged unless keepCache). */
  promptCache?: NativePromptCache;
  /** One prompt: afterwards promptCache holds the prompt and the reply tokens that ran (updated in place). */
  keepCache?: boolean;
}

/**
 * A prompt cache (native/prompt_cache.h): the keys and values of one sequence and the token ids
 * they came from. Saved in mlx-lm's prompt-cache safetensors format.
 */
export interface NativePromptCache {
  /** Write the cache (atomic); metadata goes under mlx-lm's "0.<key>" entries. E_ARGUMENT when empty. */
  save(path: string, metadata?: Record<string, string>): Promise<void>;
  /** A copy, filled on the engine thread after the jobs queued before (arrays shared until written). */
  copy(): NativePromptCache;
  /** The token ids the cache holds. */
  tokens(): Int32Array;
  readonly length: number;
  /** Frees the arrays (on the engine thread, after queued work). */
  dispose(): void;
  readonly disposed: boolean;
}

/** A grammar in one of the engine's formats. */
export interface NativeGrammar {
  type: 'json_schema' | 'regex' | 'lark';
  data: string;
  /** What errors call it: the option it came from (e.g. "grammar.regex"). */
  name?: string;
}

/** A vocabulary handed to the grammar engine (opaque). */
export type NativeGrammarVocab = { readonly __brand: 'NativeGrammarVocab' };

/** "grammar": the sequence's grammar allowed no further token (grammarError says why). */
export type FinishReason = 'length' | 'eos' | 'stop' | 'cancelled' | 'grammar';

export interface NativeGenerateStats {
  promptTokens: number;
  /** Leading tokens common to all prompts, prefilled once for the batch. */
  sharedPrefixTokens: number;
  /** Tokens the prompt cache held when the call began (0 without one). */
  cacheTokens: number;
  /** Leading prompt tokens whose keys and values came from the prompt cache. */
  reusedTokens: number;
  /** Prompt tokens run through the model (all rows, padding not counted). */
  prefilledTokens: number;
  promptSeconds: number;
  generatedTokens: number;
  generateSeconds: number;
  peakMemory: number;
}

export interface NativeGenerateResult {
  /** logprobs, topIds (k per token, most likely first) and topLogprobs when the request asked for logprobs. */
  sequences: { tokens: Int32Array; finish: FinishReason; grammarError?: string; logprobs?: Float32Array; topIds?: Int32Array; topLogprobs?: Float32Array }[];
  stats: NativeGenerateStats;
}

export interface NativeControl {
  cancel(): void;
  stop(sequence: number): void;
  readonly cancelled: boolean;
}

export type GgufMetadata = Record<string, string | number | string[] | number[]>;

/** A GGUF file's header as native/io/gguf.cpp reads it (bounded by the file size; the tensor data is not read). */
export interface GgufHeader {
  version: number;
  /** Scalar and string metadata in file order (arrays are skipped); 64-bit integers are BigInts. */
  metadata: Record<string, string | number | boolean | bigint>;
  /** Shapes outermost first; types by ggml's names ("F32", "Q4_0", "Q6_K", ...). */
  tensors: { name: string; shape: number[]; type: string }[];
}

/** 'kernels': the stored quantized weights, with mlx-lab's own CPU kernel for calls of at most 32 rows (decode, eval batches) and a per-call float32 weight above. */
export type ComputeMode = 'auto' | 'native' | 'float32' | 'kernels';

/** What the compute policy applied to a loaded model. */
export interface ComputeReport {
  mode: 'native' | 'float32' | 'kernels';
  reason: string;
  /** Bytes of the float32 copies kept for compute. */
  extraBytes: number;
  /** Weights given a float32 copy. */
  weights: number;
}

export interface NativeModel {
  forward(tokens: Int32Array, batch: number): Promise<NativeArray>;
  generate(
    request: NativeGenerateRequest,
    control: NativeControl,
    onToken?: (sequence: number, token: number) => void,
  ): Promise<NativeGenerateResult>;
  info(): { config: ModelConfig; parameterBytes: number; compute: ComputeReport };
  setCompute(mode: ComputeMode): Promise<ComputeReport>;
  dispose(): void;
  readonly disposed: boolean;
}

/** LoRA settings (mlx-lm's lora_parameters plus num_layers and fine_tune_type). */
export interface NativeLoraConfig {
  rank?: number; // default 8
  scale?: number; // default 20
  dropout?: number; // default 0
  /** Module paths relative to a block ("self_attn.q_proj") or full paths ("lm_head"); default: every linear. */
  keys?: string[] | null;
  /** The last numLayers blocks; <= 0 means all (mlx-lm: layers[-max(n, 0):]). Default 16. */
  numLayers?: number;
  fineTuneType?: 'lora' | 'dora' | 'full';
}

/** mlx-lm's lr_schedule: a mlx.optimizers schedule with positional arguments and an optional linear warmup. */
export interface NativeScheduleConfig {
  name: 'cosine_decay' | 'linear_schedule' | 'exponential_decay' | 'step_decay';
  arguments: number[];
  warmup?: number;
  warmupInit?: number;
}

/** mlx.optimizers defaults: adam betas [0.9, 0.999], eps 1e-8, no bias correction; adamw weightDecay 0.01. */
export interface NativeOptimizerConfig {
  name?: 'adam' | 'adamw' | 'sgd';
  learningRate?: number; // default 1e-5
  schedule?: NativeScheduleConfig | null;
  betas?: [number, number];
  eps?: number;
  biasCorrection?: boolean;
  weightDecay?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}

export interface NativeTrainerOptions {
  lora?: NativeLoraConfig;
  optimizer?: NativeOptimizerConfig;
  /** lora_a is drawn as mlx-lm draws it after mx.random.seed(seed); also seeds dropout. Default 0. */
  seed?: number;
  /** Micro-batches per optimizer update (averaged gradients). Default 1. */
  gradAccumulationSteps?: number;
  gradCheckpoint?: boolean;
  /** mx.compile the gradient and update functions. Default false. */
  compile?: boolean;
  /**
   * Leading tokens the examples share (Dataset.sharedPrefix): the frozen layers below the
   * adapter run on them once, and on the rest of each batch that starts with them. Off with compile.
   */
  sharedPrefix?: Int32Array | number[];
  /** Sum each step's gradients over the distributed group (token-weighted). Default false. */
  dataParallel?: boolean;
  /** In one process, split each batch into this many row shards combined as data-parallel ranks combine them (the bit-exact reference of a distributed run). Default 1. */
  localShards?: number;
  /** Attach for inference only: no optimizer, no optimizer state (step and the state file then fail with E_ARGUMENT). Default false. */
  inference?: boolean;
}

/**
 * One micro-batch as mlx-lm's iterate_batches makes it: tokens [batch, length] row-major, zero
 * padded; per row its length and its prompt offset (mask_prompt; 0 = train on every token).
 * Target t (predicting tokens[t + 1]) counts when offset <= t + 1 <= length.
 */
export interface NativeTrainBatch {
  tokens: Int32Array | number[];
  batch: number;
  lengths: Int32Array | number[];
  offsets?: Int32Array | number[];
}

export interface NativeStepResult {
  /** This micro-batch's loss. */
  loss: number;
  /** Its unmasked target tokens. */
  tokens: number;
  /** The optimizer's learning rate after this step (as mlx-lm reports it). */
  lr: number;
  /** NaN/Inf loss: nothing changed (no accumulation, no update, iteration not counted). */
  nonFinite: boolean;
  /** An optimizer update happened (every gradAccumulationSteps-th step). */
  updated: boolean;
  /** Shared-prefix tokens whose frozen layers came from the trainer's cache (0: the whole batch ran). */
  prefixTokens: number;
  /** Micro-batches trained so far (mlx-lm's `it`). */
  iteration: number;
  /** Optimizer updates so far. */
  step: number;
}

/**
 * One GRPO micro-batch: rows of prompt + completion tokens [batch, length] row-major, zero padded;
 * per row its prompt length, completion length and advantage. Row r's completion tokens are
 * tokens[promptLengths[r] .. promptLengths[r] + completionLengths[r]).
 */
export interface NativeGrpoBatch {
  tokens: Int32Array | number[];
  batch: number;
  promptLengths: Int32Array | number[];
  completionLengths: Int32Array | number[];
  advantages: Float32Array | Float64Array | number[];
}

/** mlx-lm-lora's GRPO loss settings (GRPOTrainingArgs), camelCased. */
export interface NativeGrpoConfig {
  /** grpo_loss_type: grpo (mean of per-row means), bnpo (mean over tokens), dr_grpo (sum / (rows * maxCompletionLength)). Default grpo. */
  lossType?: 'grpo' | 'bnpo' | 'dr_grpo';
  /** KL coefficient (0: no reference pass). Default 0.1. */
  beta?: number;
  /** Lower clip width of the importance ratio. Default 1e-4. */
  epsilon?: number;
  /** Upper clip width (DAPO); default epsilon. */
  epsilonHigh?: number | null;
  /** dr_grpo's per-row denominator. Default 512. */
  maxCompletionLength?: number;
  /** token: one ratio per token; sequence: the row's mean log-ratio. Default token. */
  importanceSamplingLevel?: 'token' | 'sequence';
}

export interface NativeGrpoStepResult extends Omit<NativeStepResult, 'prefixTokens'> {
  /** Mean over rows of the per-token KL (k3 estimate) to the reference (the base model). */
  kl: number;
  /** Shares of completion tokens whose ratio was clipped below / above. */
  clipRatioLow: number;
  clipRatioHigh: number;
}

/**
 * One DPO / ORPO micro-batch of `pairs` pairs: rows of prompt + reply tokens [2 * pairs, length]
 * row-major, zero padded, the chosen rows first, then the rejected ones in the same order; per row
 * its prompt and reply lengths; per pair ORPO's preference score (default 1).
 */
export interface NativePreferenceBatch {
  tokens: Int32Array | number[];
  pairs: number;
  promptLengths: Int32Array | number[];
  completionLengths: Int32Array | number[];
  preferenceScores?: number[];
}

/** mlx-lm-lora's DPO / ORPO loss settings (DPOTrainingArgs, ORPOTrainingArgs), camelCased. */
export interface NativePreferenceConfig {
  /** train_mode: dpo (against the base model as reference) or orpo (no reference). Default dpo. */
  method?: 'dpo' | 'orpo';
  /** dpo_cpo_loss_type: sigmoid, hinge, ipo or dpop. Default sigmoid. */
  lossType?: 'sigmoid' | 'hinge' | 'ipo' | 'dpop';
  /** DPO: temperature of the preference logits; ORPO: weight of the log-odds term. Default 0.1. */
  beta?: number;
  /** dpop: weight of the penalty on the chosen reply's likelihood falling. Default 50. */
  delta?: number;
}

/** mlx-lm-lora's DPO / ORPO metrics (its names, camelCased). */
export interface NativePreferenceMetrics {
  chosenReward: number;
  rejectedReward: number;
  accuracies: number;
  margins: number;
  policyChosenLogps: number;
  policyRejectedLogps: number;
}

export interface NativeTrainer {
  step(batch: NativeTrainBatch): Promise<NativeStepResult>;
  /** One DPO / ORPO micro-batch through the same accumulation and optimizer update as step(). */
  preferenceStep(batch: NativePreferenceBatch, config?: NativePreferenceConfig): Promise<Omit<NativeStepResult, 'prefixTokens'> & NativePreferenceMetrics>;
  /** DPO / ORPO loss, metrics and gradients of one batch; changes nothing. */
  preferenceGradients(batch: NativePreferenceBatch, config?: NativePreferenceConfig): Promise<{ loss: number; tokens: number; grads: Record<string, NativeArray> } & NativePreferenceMetrics>;
  /** The loss and metrics over batches weighted by their reply tokens, no dropout (mlx-lm-lora's evaluate_dpo). */
  preferenceEvaluate(batches: NativePreferenceBatch[], config?: NativePreferenceConfig): Promise<{ loss: number; tokens: number } & NativePreferenceMetrics>;
  /** One GRPO micro-batch through the same accumulation and optimizer update as step(). */
  grpoStep(batch: NativeGrpoBatch, config?: NativeGrpoConfig): Promise<NativeGrpoStepResult>;
  /** GRPO loss, KL and gradients of one batch; changes nothing. */
  grpoGradients(batch: NativeGrpoBatch, config?: NativeGrpoConfig): Promise<{ loss: number; tokens: number; kl: number; grads: Record<string, NativeArray> }>;
  /** sum(loss * tokens) / sum(tokens) over the batches, no dropout (mlx-lm's evaluate). */
  evaluate(batches: NativeTrainBatch[]): Promise<{ loss: number; tokens: number }>;
  /** Loss and gradients of one batch; changes nothing. */
  gradients(batch: NativeTrainBatch): Promise<{ loss: number; tokens: number; grads: Record<string, NativeArray> }>;
  /** adapters.safetensors as mlx-lm saves it (atomic). */
  saveAdapter(path: string): Promise<void>;
  /** mlx-lm's adapter file (a subset of the names is fine); E_WEIGHTS for names/shapes that do not fit. */
  loadAdapter(path: string): Promise<void>;
  adapterParameters(): Promise<Record<string, NativeArray>>;
  /** Optimizer state, step, RNG key, iteration and accumulated gradients (atomic); metadata is stored with it. */
  saveState(path: string, metadata?: Record<string, string>): Promise<void>;
  loadState(path: string): Promise<{ metadata: Record<string, string>; iteration: number; step: number; lr: number }>;
  /** A constant learning rate from now on (replaces the schedule). */
  setLearningRate(lr: number): Promise<void>;
  state(): Promise<{ iteration: number; step: number; lr: number; attached: boolean }>;
  info(): { parameters: { name: string; shape: number[] }[]; trainableParameters: number; optimizerStateArrays: number };
  /** Remove the adapter from the model (the base model again); the trainer cannot train afterwards. */
  detach(): Promise<void>;
  /** Detach and free (on the engine thread, after queued work). */
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeAddon {
  setErrorClass(ctor: typeof MlxLabError): void;
  runtime(): { mlxVersion: string; metal: boolean; cuda: boolean; device: 'cpu' | 'gpu'; blas: NativeBlasInfo };
  memory(): { active: number; peak: number; cache: number };
  matmulBenchmark(n: number, iterations: number, dtype?: 'float32' | 'float16' | 'bfloat16'): Promise<{ seconds: number; gflops: number }>;
  sleepOnEngine(ms: number): Promise<number>;
  NativeModel: {
    load(config: ModelConfig, files: string[], options?: { compute?: ComputeMode }): Promise<NativeModel>;
    loadGguf(path: string, options?: { compute?: ComputeMode }): Promise<{ model: NativeModel; config: ModelConfig; metadata: GgufMetadata }>;
  };
  NativeControl: new (sequences?: number) => NativeControl;
  NativePromptCache: {
    /** An empty cache. */
    new (): NativePromptCache;
    /**
     * Read a prompt-cache file (ours or mlx-lm's) for this model: E_PROMPT_CACHE naming the file
     * when it is missing, truncated, corrupt, or does not fit the model (layers, kv heads, head
     * dim, dtype). A file without token ids (mlx-lm's) needs `tokens`.
     */
    load(model: NativeModel, path: string, tokens?: Int32Array | number[]): Promise<{ cache: NativePromptCache; metadata: Record<string, string>; tokensFromFile: boolean }>;
  };
  NativeTrainer: {
    /** Attach an adapter to the model (which then generates with it) and make its optimizer (none with `inference`). */
    create(model: NativeModel, options?: NativeTrainerOptions): Promise<NativeTrainer>;
    /** mlx-lm-lora's advantages: (reward − group mean) / (group std + 1e-4) over consecutive groups of groupSize. */
    grpoAdvantages(rewards: ArrayLike<number>, groupSize: number): number[];
  };
}

// ---- fuse and convert (bindings/fuse.cpp, native/fuse.h)

/** Where a fuse / convert is: "fuse" per layer merged or (re/de)quantized, "save" per shard written. */
export interface NativeFuseProgress {
  stage: 'fuse' | 'save';
  done: number;
  total: number;
  /** The module path or shard file just finished. */
  name: string;
}

/** A quantization spec as config.json writes it. */
export interface NativeQuantSpec {
  group_size: number;
  bits: number;
  mode: string;
}

export interface NativeWeightOptions {
  /** Every quantized layer to full precision (the dtype of its scales). */
  dequantize?: boolean;
  /** 2, 3, 4, 5, 6 or 8 (E_ARGUMENT otherwise). */
  bits?: number;
  /** 32, 64 or 128 (E_ARGUMENT otherwise). */
  groupSize?: number;
  /** Largest shard in bytes (mlx-lm: 5 GiB). */
  maxShardBytes?: number;
}

export interface NativeFuseOptions extends NativeWeightOptions {
  /** adapters.safetensors (mlx-lm names). */
  adapterFile: string;
  /** The adapter's layout (adapter_config.json). */
  lora: NativeLoraConfig;
  /** An existing, empty folder the shards are written into. */
  outDir: string;
}

export interface NativeConvertOptions extends NativeWeightOptions {
  outDir: string;
  /** Quantize the full-precision layers (mlx_lm.convert -q; defaults 4 bits, group 64). */
  quantize?: boolean;
  /** Cast every floating weight first (mlx_lm.convert --dtype). */
  dtype?: 'float16' | 'bfloat16' | 'float32';
}

export interface NativeSavedWeights {
  /** Shard file names in order (model.safetensors, or model-0000N-of-0000M.safetensors). */
  files: string[];
  /** Weight name -> shard file, sorted by name. */
  weightMap: Record<string, string>;
  totalSize: number;
  /** mlx-lm's get_total_parameters (quantized weights counted unpacked). */
  totalParameters: number;
  /** What config.json's quantization block must say; null when all layers are full precision. */
  quantization: { base?: NativeQuantSpec; overrides: Record<string, NativeQuantSpec | false> } | null;
  /** Linear / expert / embedding layers: merged with the adapter, quantized again, dequantized, newly quantized, kept as stored. */
  layers: { fused: number; requantized: number; dequantized: number; quantized: number; kept: number };
}

export interface NativeAddon {
  /** Attach the adapter, merge it into the stored (not the float32 compute) weights, detach, write the shards; `control.cancel()` stops at the next layer or shard (E_ABORTED). */
  fuseModel(model: NativeModel, options: NativeFuseOptions, onProgress?: (p: NativeFuseProgress) => void, control?: NativeControl): Promise<NativeSavedWeights>;
  /** The model's stored weights quantized / dequantized / cast, written as shards. */
  convertModel(model: NativeModel, options: NativeConvertOptions, onProgress?: (p: NativeFuseProgress) => void, control?: NativeControl): Promise<NativeSavedWeights>;
  /** The metadata of a GGUF file (llama, qwen2, qwen3, gemma3) (reads the file through MLX's loader). */
  ggufMetadata(path: string): Promise<GgufMetadata>;
  /** The header of a GGUF file (v2/v3), read synchronously: E_MODEL_LOAD for a missing, non-GGUF or corrupt file, E_GGUF for content it does not take. */
  readGgufHeader(path: string): GgufHeader;
}

// ---- distributed (bindings/distributed.cpp, native/distributed.h)

/** The BLAS loaded in this process (what MLX's CPU matmuls run on). */
export interface NativeBlasInfo {
  /** Path of the library, "Accelerate" on macOS, "" when none was found. */
  library: string;
  name: 'OpenBLAS' | 'reference' | 'Accelerate' | 'unknown';
  /** OpenBLAS's kernel, e.g. "SkylakeX" ("" when not OpenBLAS). */
  corename: string;
  /** OpenBLAS's build configuration (version, DYNAMIC_ARCH, ...). */
  config: string;
  threads: number;
}

export interface NativeGroup {
  rank: number;
  size: number;
  /** "ring", "mpi", "jaccl", "nccl", or "none" for one process. */
  backend: string;
}

export interface NativeAddon {
  /** Join the group the environment describes (MLX_RANK + MLX_HOSTFILE for ring), once per process. */
  distributedInit(backend?: string): Promise<NativeGroup>;
  /** Element-wise sums over the ranks (float32). */
  distributedAllSum(values: number[]): Promise<number[]>;
  /** Every rank's text, in rank order. */
  distributedAllGather(text: string): Promise<string[]>;
  /** Bytes this rank sent through collectives so far (ring algorithm estimate). */
  distributedBytesSent(): Promise<number>;
}

// ---- grammar engine (bindings/grammar.cpp, native/grammar.h)

export interface NativeAddon {
  /** Load llguidance (the stub of its Python names first); returns its version. E_GRAMMAR when it cannot load. */
  loadGrammarEngine(stubPath: string, libPath: string): string;
  /** Each token's bytes back to back, their lengths, and the EOS ids the grammar may end on (the first is the main one). */
  grammarVocab(bytes: Uint8Array, lens: Uint32Array, eosIds: number[]): NativeGrammarVocab;
  /**
   * Feed tokens through a fresh matcher: all taken (ok), a complete reply, whether any token
   * (EOS included) may come next, or why the first bad one was refused. E_GRAMMAR for an invalid grammar.
   */
  checkGrammar(vocab: NativeGrammarVocab, grammar: NativeGrammar, tokens: number[]): { ok: boolean; complete: boolean; next: boolean; taken: number; error?: string };
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
let addon: NativeAddon | undefined;

/** The addon, loaded once. Throws E_NATIVE_LOAD with what to do when it is not built. */
export function native(): NativeAddon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  applyKernelChoice(); // OPENBLAS_CORETYPE must be set before OpenBLAS loads with libmlx
  try {
    // MLX_LAB_ADDON: an explicit .node file (the sanitizer build in build-asan/); else prebuilds/ or build/.
    const explicit = process.env.MLX_LAB_ADDON;
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    addon = explicit ? (require(resolve(explicit)) as NativeAddon) : load(root);
  } catch (cause) {
    throw new MlxLabError(
      'E_NATIVE_LOAD',
      `could not load the mlx-lab native addon from ${root} (${(cause as Error).message}). ` +
        'Run `npm install` (or `npm run build:native`) to fetch the MLX SDK and build it.',
      { cause },
    );
  }
  addon.setErrorClass(MlxLabError);
  return addon;
}

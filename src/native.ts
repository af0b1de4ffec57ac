/**
 * The single loader of the native addon (node-gyp-build: prebuilds/ first, then build/Release)
 * and the typed surface of what it exports. Nothing else imports the addon.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { MlxLabError } from './errors.js';
import type { ModelConfig } from './model-config.js';

export interface NativeArray {
  data: Float32Array | Int32Array;
  shape: number[];
}

export interface NativeGenerateRequest {
  prompts: Int32Array[] | number[][];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  repetitionContext?: number;
  seed?: number;
  eosIds?: number[];
  prefillStep?: number;
}

export type FinishReason = 'length' | 'eos' | 'stop' | 'cancelled';

export interface NativeGenerateStats {
  promptTokens: number;
  promptSeconds: number;
  generatedTokens: number;
  generateSeconds: number;
  peakMemory: number;
}

export interface NativeGenerateResult {
  sequences: { tokens: Int32Array; finish: FinishReason }[];
  stats: NativeGenerateStats;
}

export interface NativeControl {
  cancel(): void;
  stop(sequence: number): void;
  readonly cancelled: boolean;
}

export type GgufMetadata = Record<string, string | number | string[] | number[]>;

export type ComputeMode = 'auto' | 'native' | 'float32';

/** What the compute policy applied to a loaded model. */
export interface ComputeReport {
  mode: 'native' | 'float32';
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

export interface NativeAddon {
  setErrorClass(ctor: typeof MlxLabError): void;
  runtime(): { mlxVersion: string; metal: boolean; cuda: boolean; device: 'cpu' | 'gpu' };
  memory(): { active: number; peak: number; cache: number };
  matmulBenchmark(n: number, iterations: number, dtype?: 'float32' | 'float16' | 'bfloat16'): Promise<{ seconds: number; gflops: number }>;
  sleepOnEngine(ms: number): Promise<number>;
  NativeModel: {
    load(config: ModelConfig, files: string[], options?: { compute?: ComputeMode }): Promise<NativeModel>;
    loadGguf(path: string, options?: { compute?: ComputeMode }): Promise<{ model: NativeModel; config: ModelConfig; metadata: GgufMetadata }>;
  };
  NativeControl: new (sequences?: number) => NativeControl;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let addon: NativeAddon | undefined;

/** The addon, loaded once. Throws E_NATIVE_LOAD with what to do when it is not built. */
export function native(): NativeAddon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  try {
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    addon = load(root);
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

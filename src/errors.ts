/**
 * The one error class of mlx-lab. Native failures arrive as instances of it too (the addon is
 * given this class at load time), so callers can switch on `code` wherever an error came from.
 */
export type ErrorCode =
  | 'E_MODEL_LOAD' // model files missing or unreadable
  | 'E_CONFIG' // bad or unsupported configuration
  | 'E_DATA' // bad or missing training data (JSONL files, formats, batching)
  | 'E_WEIGHTS' // missing or mis-shaped weight
  | 'E_GGUF' // unsupported GGUF content
  | 'E_TOKENIZER' // missing or invalid tokenizer files
  | 'E_TEMPLATE' // chat template errors
  | 'E_ARGUMENT' // bad call arguments
  | 'E_DISPOSED' // handle used after dispose()
  | 'E_ABORTED' // cancelled through an AbortSignal
  | 'E_NATIVE_LOAD' // the addon could not be loaded
  | 'E_MLX' // an error raised inside MLX
  | 'E_TRAIN' // a training step failed (non-finite loss, MLX failure during a step)
  | 'E_DISTRIBUTED' // a distributed run failed (group init, a peer lost, a rank died)
  | 'E_SUITE' // an eval suite file is missing, malformed or invalid
  | 'E_SCORER' // an eval scorer is unknown, cannot be loaded or is misused
  | 'E_INTERNAL'; // anything else

export class MlxLabError extends Error {
  readonly code: string;

  constructor(code: ErrorCode | string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MlxLabError';
    this.code = code;
  }
}

/** Shorthand for `throw new MlxLabError(...)` in expression position. */
export function fail(code: ErrorCode, message: string, options?: { cause?: unknown }): never {
  throw new MlxLabError(code, message, options);
}

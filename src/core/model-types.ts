/** The model description the native addon consumes (field names as in config.json); model/config.ts builds it. */
export const SUPPORTED_MODEL_TYPES = ['llama', 'qwen3', 'qwen3_moe', 'qwen2', 'mistral', 'phi3', 'gemma3_text', 'granite'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

export interface QuantSpec {
  group_size: number;
  bits: number;
  mode?: string;
}

export interface RopeScaling {
  type: 'default' | 'linear' | 'llama3' | 'longrope';
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
  /** longrope: one frequency factor per pair of rotated dims. */
  short_factor?: number[];
  long_factor?: number[];
}

/** What native code receives (field names as in config.json). */
export interface ModelConfig {
  model_type: ModelType;
  hidden_size: number;
  num_hidden_layers: number;
  intermediate_size: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  max_position_embeddings?: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_traditional?: boolean;
  rope_scaling?: RopeScaling;
  partial_rotary_factor?: number;
  query_pre_attn_scalar?: number;
  rope_local_base_freq?: number;
  sliding_window?: number;
  sliding_window_pattern?: number;
  embedding_multiplier?: number;
  attention_multiplier?: number;
  residual_multiplier?: number;
  logits_scaling?: number;
  tie_word_embeddings: boolean;
  attention_bias?: boolean;
  mlp_bias?: boolean;
  num_experts?: number;
  num_experts_per_tok?: number;
  moe_intermediate_size?: number;
  decoder_sparse_step?: number;
  mlp_only_layers?: number[];
  norm_topk_prob?: boolean;
  quantization?: { base?: QuantSpec; overrides: Record<string, QuantSpec | false> };
}

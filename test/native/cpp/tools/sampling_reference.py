"""Reference tokens for test_generate.cpp: mlx-lm's generate_step with sampling on a fixture.

Run with the project venv (bash scripts/venv.sh):
  .venv/bin/python test/native/cpp/tools/sampling_reference.py
Prints one line per case; paste them into test_generate.cpp when the fixtures change.
mx.random.seed(s) then one categorical draw per token uses the key sequence
key(s) -> split -> (next, sub), which mlxlab's seeded sampler reproduces.
"""

from pathlib import Path

import mlx.core as mx
from mlx_lm.generate import generate_step
from mlx_lm.sample_utils import make_logits_processors, make_sampler
from mlx_lm.utils import load_model

ROOT = Path(__file__).resolve().parents[4]
CASES = [
    # name, fixture, temp, top_p, min_p, top_k, repetition_penalty, context, seed
    ("temp", "llama-f32", 1.0, 1.0, 0.0, 0, None, 20, 7),
    ("filters", "llama-f32", 0.8, 0.9, 0.05, 20, None, 20, 11),
    ("penalty_greedy", "qwen3-f32", 0.0, 1.0, 0.0, 0, 1.5, 5, 0),
    ("all", "qwen3_moe-f32", 0.7, 0.95, 0.02, 40, 1.2, 8, 3),
]

for name, fixture, temp, top_p, min_p, top_k, penalty, context, seed in CASES:
    folder = ROOT / "test" / "fixtures" / "models" / fixture
    model, _ = load_model(folder)
    prompt = mx.load(str(folder / "expected.safetensors"))["greedy_prompt"]
    sampler = make_sampler(temp=temp, top_p=top_p, min_p=min_p, top_k=top_k)
    processors = make_logits_processors(
        repetition_penalty=penalty, repetition_context_size=context
    )
    mx.random.seed(seed)
    tokens = [
        t
        for t, _ in generate_step(
            prompt, model, max_tokens=24, sampler=sampler, logits_processors=processors
        )
    ]
    print(f'{{"{name}", "{fixture}", {temp}f, {top_p}f, {min_p}f, {top_k}, '
          f'{penalty or 1.0}f, {context}, {seed}, {{{", ".join(map(str, tokens))}}}}},')

"""mlx-lm side of benchmarks/generate.mjs: runs mlx_lm's own generation on given token ids and
prints one JSON line, so the Node side never parses human-readable output.

Input (a JSON file, argv[1]):
  {"model": dir, "reps": 3, "warmup": 1,
   "configs": [{"prompt": [ids...], "batch": 1, "max_tokens": 128}, ...]}

batch 1 uses mlx_lm.stream_generate (what `mlx_lm.generate` runs); batch > 1 uses
mlx_lm.batch_generate. Sampling is greedy (mlx-lm's default). EOS is ignored so that every run
generates exactly max_tokens tokens, like the Node side's fixed-length runs. prompt_tps,
generation_tps and peak memory are mlx-lm's own figures; peak memory is reset before each run.
"""

import json
import sys
import time

from blas_info import blas_kernel, loaded_blas, peak_rss


def matmul_gflops(mx, n=1024, iters=10):
    a = mx.random.normal((n, n))
    b = mx.random.normal((n, n))
    mx.eval(a, b)
    for _ in range(2):
        mx.eval(a @ b)
    tic = time.perf_counter()
    for _ in range(iters):
        mx.eval(a @ b)
    return 2 * n**3 / ((time.perf_counter() - tic) / iters) / 1e9


def run_single(mx, mlx_lm, model, tokenizer, prompt, max_tokens):
    mx.reset_peak_memory()
    last = None
    tokens = []
    for response in mlx_lm.stream_generate(model, tokenizer, prompt=prompt, max_tokens=max_tokens):
        tokens.append(int(response.token))
        last = response
    return {
        "prompt_tokens": int(last.prompt_tokens),
        "prompt_tps": float(last.prompt_tps),
        "generation_tokens": int(last.generation_tokens),
        "generation_tps": float(last.generation_tps),
        "peak_memory": float(last.peak_memory) * 1e9,
    }, tokens


def run_batch(mx, batch_generate, model, tokenizer, prompts, max_tokens):
    mx.reset_peak_memory()
    response = batch_generate(
        model, tokenizer, prompts=prompts, max_tokens=max_tokens, return_token_ids=True
    )
    s = response.stats
    return {
        "prompt_tokens": int(s.prompt_tokens),
        "prompt_tps": float(s.prompt_tps),
        "generation_tokens": int(s.generation_tokens),
        "generation_tps": float(s.generation_tps),
        "peak_memory": float(s.peak_memory) * 1e9,
    }, [int(t) for t in (response.token_ids or [[]])[0]]


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)

    import mlx.core as mx
    import mlx_lm
    from mlx_lm.generate import batch_generate

    tic = time.perf_counter()
    model, tokenizer = mlx_lm.load(job["model"])
    load_seconds = time.perf_counter() - tic
    # Fixed-length runs: no EOS stop (both sides generate exactly max_tokens).
    tokenizer.eos_token_ids = []

    out = {
        "mlx": mx.__version__,
        "mlx_lm": getattr(mlx_lm, "__version__", "unknown"),
        "python": sys.executable,
        "prefix": sys.prefix,
        "blas": loaded_blas(),
        "blas_kernel": blas_kernel(),
        "matmul_gflops": matmul_gflops(mx),
        "load_seconds": load_seconds,
        "results": [],
    }
    for cfg in job["configs"]:
        prompt = [int(t) for t in cfg["prompt"]]
        batch = int(cfg.get("batch", 1))
        max_tokens = int(cfg["max_tokens"])
        runs = []
        tokens = None
        for i in range(int(job.get("warmup", 1)) + int(job.get("reps", 3))):
            if batch == 1:
                stats, toks = run_single(mx, mlx_lm, model, tokenizer, prompt, max_tokens)
            else:
                stats, toks = run_batch(mx, batch_generate, model, tokenizer, [prompt] * batch, max_tokens)
            mx.clear_cache()
            if i >= int(job.get("warmup", 1)):
                runs.append(stats)
                tokens = tokens or toks
        out["results"].append(
            {"prompt_tokens": len(prompt), "batch": batch, "max_tokens": max_tokens, "runs": runs, "tokens": tokens}
        )
    out["max_rss"] = peak_rss()  # peak resident set (VmHWM), as every side reports it
    print(json.dumps(out))


if __name__ == "__main__":
    main()

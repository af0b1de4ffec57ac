"""mlx-lm side of benchmarks/train.mjs: runs mlx-lm's own LoRA training (mlx_lm.lora's
train_model, i.e. what `mlx_lm.lora --train` runs) on a data folder and prints one JSON line, so
the Node side never parses human-readable output.

Input (a JSON file, argv[1]): mlx_lm.lora's config keys, e.g.
  {"model": dir, "data": dir, "adapter_path": dir, "iters": 30, "batch_size": 1,
   "num_layers": 8, "learning_rate": 1e-4, "mask_prompt": true, "seed": 42,
   "grad_accumulation_steps": 1, "max_seq_length": 2048,
   "lora_parameters": {"rank": 8, "scale": 20.0, "dropout": 0.0}}
Any key of mlx_lm.lora's CONFIG_DEFAULTS may be given; the rest keep mlx-lm's defaults, except
steps_per_report (1: a report per iteration, so the caller can drop warm-up iterations) and
save_every (past the last iteration). Validation is skipped (no valid set is passed), as the
Node side does, so that only training steps run. Extra keys of the job:
  "float32": true      train on mlx_lm.utils.dequantize_model(model) cast to float32 (the
                       stored scales are float16): plain LoRA over float32 nn.Linear, the
                       same math as our CPU "auto" compute (float32 copies of the weights),
                       instead of QLoRA over the quantized layers;
  "max_seconds": S     stop after the first iteration that ends S seconds or more after
  "min_iters": N       training started, once at least N iterations ran (a time budget for
                       slow sides; the iterations done are reported).

mlx_lm.lora's own order is kept: np.random.seed(seed), load, load_dataset, then train_model
(mx.random.seed, freeze, linear_to_lora_layers, optimizer, tuner.trainer.train). The per-report
figures are mlx-lm's own (TrainingCallback.on_train_loss_report): with steps_per_report 1 each
report is one iteration: its loss, its target tokens (mask.sum(): unmasked next-token targets),
its time (train_time covers the compiled step and mx.eval) and the peak memory since the
process started (weights included; as mlx-lm reports it).
mlx-lm's progress output goes to stderr; stdout holds the JSON line only.
"""

import json
import os
import resource
import sys
import time
import types

from blas_info import blas_kernel, loaded_blas


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


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)

    # Everything mlx-lm prints (rich progress, headers) goes to stderr; the JSON line to stdout.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(os.dup(2), "w", buffering=1)

    import mlx.core as mx
    import mlx_lm
    import numpy as np
    from mlx.utils import tree_flatten
    from mlx_lm import lora
    from mlx_lm.tuner.datasets import load_dataset
    from mlx_lm.tuner.trainer import TrainingCallback
    from mlx_lm.utils import load

    gflops = matmul_gflops(mx)

    conf = dict(lora.CONFIG_DEFAULTS)
    conf.update({"steps_per_report": 1, "train": True})
    conf.update({k: v for k, v in job.items() if k in lora.CONFIG_DEFAULTS})
    if "save_every" not in job:
        conf["save_every"] = int(conf["iters"]) + 1
    args = types.SimpleNamespace(**conf)

    class Budget(Exception):
        pass

    max_seconds = job.get("max_seconds")
    min_iters = int(job.get("min_iters", 1))

    class Collect(TrainingCallback):
        def __init__(self):
            self.reports = []
            self.last_tokens = 0
            self.started = time.perf_counter()

        def on_train_loss_report(self, info):
            trained = int(info["trained_tokens"])
            self.reports.append(
                {
                    "iteration": int(info["iteration"]),
                    "loss": float(info["train_loss"]),
                    "tokens": trained - self.last_tokens,
                    # train_time of the window (n_tokens / train_time is exact, unlike it/sec
                    # of a short last window).
                    "seconds": (trained - self.last_tokens) / float(info["tokens_per_second"]),
                    "tokens_per_second": float(info["tokens_per_second"]),
                    "lr": float(info["learning_rate"]),
                    "peak_memory": float(info["peak_memory"]) * 1e9,
                }
            )
            self.last_tokens = trained
            if (
                max_seconds is not None
                and len(self.reports) >= min_iters
                and time.perf_counter() - self.started >= float(max_seconds)
            ):
                raise Budget()

    # mlx_lm.lora.run, minus the reporting callbacks and the validation set.
    np.random.seed(args.seed)
    tic = time.perf_counter()
    model, tokenizer = load(args.model)
    load_seconds = time.perf_counter() - tic
    if job.get("float32"):
        from mlx_lm.utils import dequantize_model

        model = dequantize_model(model)
        model.set_dtype(mx.float32)
        mx.eval(model.parameters())
    train_set, _valid_set, _test_set = load_dataset(args, tokenizer)
    cb = Collect()
    tic = time.perf_counter()
    stopped = "completed"
    try:
        lora.train_model(args, model, train_set, [], cb)
    except Budget:
        stopped = "time budget"
    wall = time.perf_counter() - tic
    trainable = sum(v.size for _, v in tree_flatten(model.trainable_parameters()))

    result = {
        "mlx": mx.__version__,
        "mlx_lm": getattr(mlx_lm, "__version__", "unknown"),
        "python": sys.executable,
        "prefix": sys.prefix,
        "blas": loaded_blas(),
        "blas_kernel": blas_kernel(),
        "matmul_gflops": gflops,
        "load_seconds": load_seconds,
        "train_examples": len(train_set),
        "trainable_parameters": int(trainable),
        "float32": bool(job.get("float32")),
        "train_wall_seconds": wall,
        "stop": stopped,
        "peak_memory": float(mx.get_peak_memory()),
        # CPU time of the whole process (user, and kernel: OpenBLAS's spinning threads, page faults).
        "cpu_user_seconds": resource.getrusage(resource.RUSAGE_SELF).ru_utime,
        "cpu_sys_seconds": resource.getrusage(resource.RUSAGE_SELF).ru_stime,
        "iterations": cb.reports,
    }
    with os.fdopen(out_fd, "w") as out:
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

/** `mlx-lab convert`: a GGUF file or a model folder to an MLX model folder, like mlx_lm.convert. */
import { Command, InvalidArgumentError } from 'commander';
import { convert } from '../convert/convert.js';
import { MlxLabError } from '../core/errors.js';
import { progressPrinter, summary } from './fuse.js';
import { integer } from './options.js';
import { GRACE_MS, onInterrupt } from './signals.js';

export function convertCommand(): Command {
  return new Command('convert')
    .description('convert a GGUF file (llama, qwen2, qwen3, gemma3; F32/F16/Q4_0/Q4_1/Q8_0) or a safetensors model folder into an MLX model folder, optionally quantized (mlx_lm.convert)')
    .option('--model <path>', 'the .gguf file or model folder to convert')
    .option('--hf-path <path>', 'the same as --model')
    .option('--mlx-path <path>', 'the folder to write', 'mlx_model')
    .option('-q, --quantize', 'quantize the full-precision layers')
    .option('--q-bits <n>', 'bits with -q (2, 3, 4, 5, 6, 8; default 4)', integer('--q-bits'))
    .option('--q-group-size <n>', 'group size with -q (32, 64, 128; default 64)', integer('--q-group-size'))
    .option('-d, --dequantize', 'save every layer in full precision')
    .option('--dtype <type>', 'cast floating weights (float16, bfloat16, float32; default: the config\'s torch_dtype)', (v: string) => {
      if (!['float16', 'bfloat16', 'float32'].includes(v)) throw new InvalidArgumentError('--dtype must be float16, bfloat16 or float32');
      return v;
    })
    .option('--force', 'replace --mlx-path when it exists')
    .action(async (opts) => {
      const input = (opts.model ?? opts.hfPath) as string | undefined;
      if (!input) throw new MlxLabError('E_ARGUMENT', 'give --model <.gguf file or model folder>');
      const progress = progressPrinter();
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'convert stops at the next layer and writes nothing', { graceMs: GRACE_MS });
      try {
        const r = await convert({
          input,
          out: opts.mlxPath,
          quantize: Boolean(opts.quantize),
          bits: opts.qBits,
          groupSize: opts.qGroupSize,
          dequantize: Boolean(opts.dequantize),
          dtype: opts.dtype,
          force: Boolean(opts.force),
          onProgress: progress.onProgress,
          signal: controller.signal,
        });
        progress.end();
        process.stdout.write(summary('converted', r));
      } catch (err) {
        progress.end();
        interrupt.settle(err, `convert interrupted; ${opts.mlxPath} was not written`);
      } finally {
        progress.end();
        interrupt.dispose();
      }
    });
}

/** `mlx-lab fuse`: merge an adapter into its base model and save a model folder, like mlx_lm.fuse. */
import { Command } from 'commander';
import { fuse, type FuseProgress, type SavedModelFolder } from '../convert/fuse.js';
import { integer } from './options.js';
import { RUN_FILES } from '../run/run-dir.js';
import { GRACE_MS, onInterrupt } from './signals.js';

/** Progress on stderr: one updating line on a terminal, a line per finished stage otherwise. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { onProgress: (p: FuseProgress) => void; end: () => void } {
  const tty = Boolean(stream.isTTY);
  const labels: Record<FuseProgress['stage'], string> = { load: 'loading', fuse: 'layers', save: 'saving shard', files: 'writing', done: 'done' };
  let open = false;
  return {
    onProgress(p) {
      if (p.stage === 'done') return;
      const line = p.stage === 'load' || p.stage === 'files' ? `${labels[p.stage]} ${p.name}` : `${labels[p.stage]} ${p.done}/${p.total} ${p.name}`;
      if (tty) {
        stream.write(`\r\x1b[K${line}`);
        open = true;
      } else if (p.done === p.total) {
        stream.write(`${line}\n`);
      }
    },
    end() {
      if (open) stream.write('\r\x1b[K');
      open = false;
    },
  };
}

const MB = 1024 * 1024;

/** One line saying what was written. */
export function summary(verb: string, r: SavedModelFolder): string {
  const l = r.layers;
  const parts = [
    l.fused ? `${l.fused} fused` : '',
    l.requantized ? `${l.requantized} re-quantized` : '',
    l.quantized ? `${l.quantized} quantized` : '',
    l.dequantized ? `${l.dequantized} dequantized` : '',
    l.kept ? `${l.kept} kept as stored` : '',
  ].filter(Boolean);
  const q = r.quantization as { bits?: number; group_size?: number } | undefined;
  const quant = q ? `${q.bits} bits, group size ${q.group_size}${Object.keys(q).length > 3 ? ' (+ per-layer specs)' : ''}` : 'full precision';
  return (
    `${verb}: ${r.out}\n` +
    (parts.length ? `  layers: ${parts.join(', ')}\n` : '') +
    `  weights: ${r.files.length} shard${r.files.length === 1 ? '' : 's'}, ${(r.totalSize / MB).toFixed(1)} MB, ${r.totalParameters} parameters, ${quant}\n` +
    (r.tokenizerFiles.length ? `  tokenizer: ${r.tokenizerFiles.join(', ')}\n` : '')
  );
}

export function fuseCommand(): Command {
  return new Command('fuse')
    .description('merge a LoRA / DoRA / full adapter into its base model and save a model folder mlx-lm loads (mlx_lm.fuse)')
    .option('--model <path>', 'base model folder (mlx-lm layout) or .gguf file', 'mlx_model')
    .option('--adapter-path <path>', `adapter folder with ${RUN_FILES.adapter} and ${RUN_FILES.adapterConfig}`, 'adapters')
    .option('--save-path <path>', 'the folder to write', 'fused_model')
    .option('--dequantize', 'save every layer in full precision')
    .option('--de-quantize', 'the same as --dequantize')
    .option('--bits <n>', 're-quantize with these bits (2, 3, 4, 5, 6, 8; default: the base\'s quantization)', integer('--bits'))
    .option('--group-size <n>', 'group size with --bits (32, 64, 128; default: the base\'s)', integer('--group-size'))
    .option('--force', 'replace --save-path when it exists')
    .action(async (opts) => {
      const progress = progressPrinter();
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'fuse stops at the next layer and writes nothing', { graceMs: GRACE_MS });
      try {
        const r = await fuse({
          model: opts.model,
          adapter: opts.adapterPath,
          out: opts.savePath,
          dequantize: Boolean(opts.dequantize || opts.deQuantize),
          bits: opts.bits,
          groupSize: opts.groupSize,
          force: Boolean(opts.force),
          onProgress: progress.onProgress,
          signal: controller.signal,
        });
        progress.end();
        process.stdout.write(summary(`fused ${r.layers.fused} layers into the base`, r));
      } catch (err) {
        progress.end();
        interrupt.settle(err, `fuse interrupted; ${opts.savePath} was not written`);
      } finally {
        progress.end();
        interrupt.dispose();
      }
    });
}

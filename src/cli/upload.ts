/** `mlx-lab upload`: a fused model or an adapter folder to the Hugging Face Hub, with a model card; a dry run unless --yes. */
import { Command } from 'commander';
import { uploadToHub, type UploadResult } from '../convert/upload.js';
import { GRACE_MS, onInterrupt } from './signals.js';

const KB = 1024;

/** A byte count for people (B, KB, MB, GB). */
function size(bytes: number): string {
  if (bytes < KB) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / KB;
  let i = 0;
  while (v >= KB && i < units.length - 1) {
    v /= KB;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** What the upload sends (or sent): files with sizes, what was left out, the card. */
export function describeUpload(r: UploadResult): string {
  const lines = [
    r.uploaded
      ? `uploaded ${r.kind === 'fused' ? 'the fused model' : 'the adapter'} ${r.path} to ${r.repo}${r.created ? ' (a new repo)' : ''}${r.commit ? `: ${r.commit.url}` : ''}`
      : `dry run: nothing was sent. Would upload ${r.kind === 'fused' ? 'the fused model' : 'the adapter'} ${r.path} to ${r.repo}:`,
    `  README.md  ${size(Buffer.byteLength(r.card))}  (the model card below)`,
    ...r.files.map((f) => `  ${f.path}  ${size(f.size)}`),
    `  ${r.files.length + 1} files, ${size(r.totalSize)}`,
  ];
  if (r.skipped.length) lines.push('left out:', ...r.skipped.map((s) => `  ${s.path}: ${s.reason}`));
  lines.push(r.run ? `card facts from ${r.run}` : 'no run record (pass --run <run folder> for the card\'s scores)');
  if (!r.uploaded) lines.push('', '--- README.md ---', r.card.trimEnd(), '---', '', 'pass --yes to upload (needs HF_TOKEN with write access)');
  return `${lines.join('\n')}\n`;
}

export function uploadCommand(): Command {
  return new Command('upload')
    .description('upload a fused model folder or an adapter folder to the Hugging Face Hub with a model card (a dry run unless --yes)')
    .requiredOption('--path <folder>', 'the fused model folder (mlx-lab fuse --save-path) or the adapter / run folder')
    .requiredOption('--repo <user/name>', 'the Hub repo to upload to (created when missing)')
    .option('--run <folder>', 'the run folder to take the card\'s facts from (default: --path when it holds run.json)')
    .option('--yes', 'upload for real (default: print what would be sent and the card)')
    .option('--private', 'create the repo private')
    .option('--include-secrets', 'also upload files that look like secrets (.env, keys, *token*)')
    .option('-m, --message <text>', 'the commit title')
    .action(async (opts) => {
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'the upload stops; no commit is made', { graceMs: GRACE_MS });
      try {
        const r = await uploadToHub({
          path: opts.path,
          repo: opts.repo,
          run: opts.run,
          yes: Boolean(opts.yes),
          private: Boolean(opts.private),
          includeSecrets: Boolean(opts.includeSecrets),
          message: opts.message,
          signal: controller.signal,
        });
        process.stdout.write(describeUpload(r));
      } catch (err) {
        interrupt.settle(err, `upload interrupted; nothing was committed to ${opts.repo}`);
      } finally {
        interrupt.dispose();
      }
    });
}

// Training data for benchmarks/train.mjs in two kinds, so that the prefix reuse of our trainer
// and its engine are seen apart:
//   shared-prefix  the tool-format data as written: every example starts with the same system
//                  prompt (~380 tokens), which our trainer runs through the frozen layers once;
//   no-prefix      the same examples, each system prompt's words shuffled with the example's own
//                  seed: about the same lengths, no common prefix to reuse.
import { mulberry32 } from '../../scripts/lib/prng.mjs';

export const DATA_KINDS = ['shared-prefix', 'no-prefix'];

/** The words of `text` in an order drawn from `random` (Fisher–Yates), joined by single spaces. */
export function shuffledWords(text, random) {
  const words = text.split(/\s+/).filter(Boolean);
  for (let i = words.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [words[i], words[j]] = [words[j], words[i]];
  }
  return words.join(' ');
}

/** JSONL chat lines with every system message's words shuffled, line i with seed + i. */
export function withoutSharedPrefix(lines, seed = 0) {
  return lines.map((line, i) => {
    const record = JSON.parse(line);
    const random = mulberry32(seed + i);
    for (const m of record.messages ?? []) if (m.role === 'system' && typeof m.content === 'string') m.content = shuffledWords(m.content, random);
    return JSON.stringify(record);
  });
}

/** The lines of one data kind. */
export function dataKindLines(kind, lines, seed) {
  if (!DATA_KINDS.includes(kind)) throw new Error(`--data-kinds: unknown "${kind}" (${DATA_KINDS.join(', ')})`);
  return kind === 'no-prefix' ? withoutSharedPrefix(lines, seed) : lines;
}

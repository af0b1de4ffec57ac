// The benchmark prompt: token ids of a counting sequence ("1, 2, 3, ..."), cut to an exact
// length. Both sides get the same ids. Greedy decoding keeps counting, so no model stops early
// at an end-of-sequence token and every run generates its full token budget.
export function countingText(upTo = 4000) {
  return Array.from({ length: upTo }, (_, i) => String(i + 1)).join(', ') + ',';
}

/** Exactly `length` token ids from the tokenizer (our own, the model folder's tokenizer.json). */
export function promptIds(tokenizer, length) {
  const ids = tokenizer.encode(countingText(Math.max(64, length)), { addSpecialTokens: false });
  if (ids.length < length) throw new Error(`prompt: only ${ids.length} tokens, ${length} asked`);
  return ids.slice(0, length);
}

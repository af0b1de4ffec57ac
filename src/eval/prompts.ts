/** Prompt identity: normalising, near-duplicate detection, and a suite's user prompts. */
import { distance } from 'fastest-levenshtein';
import { suiteMessages, type EvalSuite } from './suite.js';

/** Lower case, punctuation and symbols to spaces, runs of spaces collapsed. */
export function normalizePrompt(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/**
 * Whether two prompts are the same request in all but a few characters: equal after
 * normalizePrompt, or within an edit distance of a quarter of the longer one. Deliberately wide:
 * "Run the tests in tests/test_loader.py" and "…tests/test_cache.py" are near-duplicates.
 */
export function isNearDuplicate(a: string, b: string): boolean {
  const na = normalizePrompt(a);
  const nb = normalizePrompt(b);
  if (na === nb) return true;
  const longest = Math.max(na.length, nb.length);
  if (Math.abs(na.length - nb.length) > longest * 0.25) return false;
  return distance(na, nb) <= longest * 0.25;
}

/** The user prompts of a suite (each case's last user message). */
export function suitePrompts(suite: EvalSuite): string[] {
  const out: string[] = [];
  for (const c of suite.cases) {
    const { messages } = suiteMessages(c, suite);
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messages[i].role === 'user' && typeof messages[i].content === 'string') {
        out.push(messages[i].content as string);
        break;
      }
    }
  }
  return out;
}

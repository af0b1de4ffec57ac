/** Finding where one JSON value ends inside longer text (Python's raw_decode, for JS). */

/**
 * The index just past the JSON object or array that opens at `start` (`{` or `[`), found by
 * matching brackets outside strings; -1 when it never closes. It does not validate the JSON.
 */
export function jsonValueEnd(text: string, start: number): number {
  const opener = text[start];
  if (opener !== '{' && opener !== '[') return -1;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** JSON.parse that reports failure as a message instead of throwing. */
export function tryJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

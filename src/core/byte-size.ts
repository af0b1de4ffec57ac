/**
 * Byte sizes as mlx-lm writes them (its _parse_size, for --clear-cache-threshold): a count with an
 * optional M, G, MB or GB suffix, decimal (M = 10^6, G = 10^9), case-insensitive. The one parser
 * for the config file and the command line.
 */

export const BYTE_SIZE = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(M|G|MB|GB)?\s*$/i;

/** "1000000", "512M", "2GB", "1.5g" → whole bytes (rounded down); undefined when the text is not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = BYTE_SIZE.exec(text);
  if (!m) return undefined;
  const scale = m[2] ? (m[2].toUpperCase().startsWith('G') ? 1e9 : 1e6) : 1;
  return Math.floor(Number(m[1]) * scale);
}

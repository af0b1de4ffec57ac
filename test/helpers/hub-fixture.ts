/** The tiny repo that scripts/make-hub-fixture.mjs has Python huggingface_hub download into test/fixtures/hub. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PY_FIXTURE = { repo: 'py-org/tiny', label: 'py-main' };

/** Its files: a real config and tokenizer config, and a small stand-in weights file (the cache layout is what is tested). */
export function pyFixtureFiles(): Map<string, Buffer> {
  const model = join(import.meta.dirname, '../fixtures/models/tiny-chat');
  return new Map([
    ['config.json', readFileSync(join(model, 'config.json'))],
    ['tokenizer_config.json', readFileSync(join(model, 'tokenizer_config.json'))],
    ['model.safetensors', Buffer.from('stand-in weights, not loaded by the test\n')],
  ]);
}

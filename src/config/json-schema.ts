/** The JSON Schema of the config YAML (schemas/train-config.schema.json, `npm run schemas`). */
import { toJsonSchema } from '../core/schema-doc.js';
import { trainConfigSchema } from './schema.js';

/** The committed file, relative to the package root. */
export const TRAIN_CONFIG_SCHEMA_FILE = 'schemas/train-config.schema.json';

/** The JSON Schema of what a training config file may hold, for editors (yaml-language-server). */
export function trainConfigJsonSchema(): Record<string, unknown> {
  return toJsonSchema(trainConfigSchema, {
    title: 'mlx-lab training config',
    description: "mlx-lm's lora YAML (mlx-lm 0.32 keys) and mlx-lab's sections: eval, early_stopping, selection, sweep. A key left out or null takes its default.",
  });
}

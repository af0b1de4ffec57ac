/**
 * The lint rules about how the eval prompts the model: thinking (thinking_mismatch), the
 * rendered prompt against training's render (thinking_mismatch, template_mismatch), and eval
 * prompts found in the training data (prompt_leak). See lint.ts for what each checks.
 */
import { isNearDuplicate, normalizePrompt } from '../prompts.js';
import type { Where } from './profile.js';
import { lastUserPrompt } from './rules-data.js';
import { caseList, firstDifference, plural, quote, recordAt } from './text.js';
import type { LintInput } from './input.js';
import type { LintWarning } from './types.js';

/** thinking_mismatch: training replies that think while the eval fails thinking replies. */
export function thinkingRule({ suite, profile }: LintInput): LintWarning[] {
  const warnings: LintWarning[] = [];
  if (profile.thinking) {
    const strict = suite.cases.filter((c) => !c.expect.allow_think).map((c) => c.id);
    if (strict.length > 0) {
      warnings.push({
        code: 'thinking_mismatch',
        message:
          `${plural(profile.thinking.count, 'training reply')} think (a <think> block or reasoning_content, first at ${recordAt(profile, profile.thinking)}), ` +
          `but the eval counts a thinking reply as a failure in ${caseList(strict)} (and stops at "<think>" when the template can think); train without thinking or set expect.allow_think`,
        caseId: strict[0],
        caseIds: strict,
      });
    }
  }
  return warnings;
}

/** thinking_mismatch / template_mismatch: the eval prompt is not what training renders before a reply. */
export function templateRule({ prompts, options }: LintInput): LintWarning[] {
  const warnings: LintWarning[] = [];
  if (options.template && prompts.length > 0) {
    const trainThinking = options.trainThinking;
    const evalThinking = options.evalThinking ?? false;
    // The eval prompt should be exactly what the model saw before a reply in training: a prefix
    // of the same conversation rendered as training renders it, with a reply appended.
    const { c, p } = prompts[0];
    try {
      const reply = '\u0000REPLY\u0000';
      const trained = options.template.render([...p.messages, { role: 'assistant', content: reply }], {
        tools: p.tools ?? null,
        addGenerationPrompt: false,
        enableThinking: trainThinking,
      });
      const evalPrompt = options.template.render(p.messages, { tools: p.tools ?? null, addGenerationPrompt: true, enableThinking: evalThinking });
      const before = trained.slice(0, Math.max(0, trained.indexOf(reply)));
      if (!trained.startsWith(evalPrompt)) {
        const d = firstDifference(evalPrompt, before);
        const flags = trainThinking !== undefined && trainThinking !== evalThinking;
        warnings.push({
          code: flags ? 'thinking_mismatch' : 'template_mismatch',
          message:
            `the eval prompt of case "${c.id}" is not what the model sees before a reply in training` +
            (flags ? ` (training renders with enable_thinking=${trainThinking}, the eval with enable_thinking=${evalThinking})` : '') +
            `: first difference at line ${d.line}, column ${d.column}: eval ${JSON.stringify(d.a)} vs training ${JSON.stringify(d.b)}`,
          caseId: c.id,
        });
      }
    } catch {
      // A template that cannot render the case is reported by the eval itself.
    }
  }
  return warnings;
}

/** prompt_leak: case prompts found in the training data (verbatim, normalized, inside text, or near). */
export function leakRule({ profile, prompts, options }: LintInput): LintWarning[] {
  const warnings: LintWarning[] = [];
  const maxLeaks = options.maxLeakWarnings ?? 10;
  const leaks: LintWarning[] = [];
  const promptList = options.nearDuplicates ? [...profile.prompts.keys()] : [];
  for (const { c, p } of prompts) {
    const prompt = lastUserPrompt(p.messages)?.trim();
    if (!prompt) continue;
    let how: string | undefined;
    const normalized = normalizePrompt(prompt);
    const verbatim = profile.prompts.get(prompt);
    const loose = normalized !== '' ? profile.normalizedPrompts.get(normalized) : undefined;
    let where: Where | undefined;
    if (verbatim) {
      where = verbatim;
      how = 'verbatim';
    } else if (loose) {
      where = loose;
      how = 'up to case, punctuation and spacing';
    } else if (profile.textRecords.some((t) => t.text.includes(prompt))) {
      const hits = profile.textRecords.filter((t) => t.text.includes(prompt));
      how = 'verbatim (inside a text record)';
      where = { count: hits.length, first: hits[0].at };
    } else if (options.nearDuplicates) {
      const near = promptList.find((t) => isNearDuplicate(prompt, t));
      if (near) {
        how = `as a near-duplicate (${quote(near)})`;
        where = profile.prompts.get(near);
      }
    }
    if (!how) continue;
    leaks.push({
      code: 'prompt_leak',
      message: `case "${c.id}": its prompt ${quote(prompt)} appears in the training data ${how}${where ? ` (${recordAt(profile, where)}${where.count > 1 ? `, ${where.count} records` : ''})` : ''}: the eval measures recall, not the format`,
      caseId: c.id,
    });
  }
  if (leaks.length > maxLeaks) {
    const rest = leaks.slice(maxLeaks - 1);
    warnings.push(...leaks.slice(0, maxLeaks - 1), {
      code: 'prompt_leak',
      message: `${rest.length} more cases' prompts appear in the training data: ${rest.map((w) => `"${w.caseId}"`).join(', ')}`,
      caseId: rest[0].caseId,
      caseIds: rest.map((w) => w.caseId!),
    });
  } else {
    warnings.push(...leaks);
  }
  return warnings;
}

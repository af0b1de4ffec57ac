/**
 * The lint rules that compare the suite's prompts with the training data's: tool names
 * (unknown_tool), system prompts (system_prompt_mismatch) and tool schema sets
 * (tool_schema_mismatch). See lint.ts for what each checks.
 */
import type { ChatMessage } from '../../model/chat.js';
import type { EvalCase } from '../suite.js';
import { schemaName, textOf } from './profile.js';
import { caseList, closestText, firstDifference, listWords, plural, quote, recordAt, suggestToolName, symDiff, wordDiff } from './text.js';
import type { LintInput } from './input.js';
import type { LintWarning } from './types.js';

export function toolsOf(expect: EvalCase['expect']): string[] {
  return expect.tool === undefined ? [] : Array.isArray(expect.tool) ? expect.tool : [expect.tool];
}

/** The user prompt of a case: its last user message's text. */
export function lastUserPrompt(messages: readonly ChatMessage[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return textOf(messages[i].content);
  }
  return undefined;
}

/** unknown_tool: tool names the suite expects or gives that the training data never uses. */
export function toolNameRule({ profile, prompts }: LintInput): LintWarning[] {
  const warnings: LintWarning[] = [];
  const known = new Set([...profile.called.keys(), ...profile.inCode.keys(), ...profile.inSchemas.keys()]);
  const candidates = [...profile.called.keys(), ...profile.inSchemas.keys(), ...profile.inCode.keys()];
  type Role = 'expected' | 'wrapper' | 'schema';
  const referenced = new Map<string, { cases: string[]; roles: Map<Role, string[]> }>();
  const ref = (tool: string, caseId: string, role: Role) => {
    const r = referenced.get(tool) ?? { cases: [], roles: new Map<Role, string[]>() };
    if (!r.cases.includes(caseId)) r.cases.push(caseId);
    const ids = r.roles.get(role) ?? [];
    if (!ids.includes(caseId)) ids.push(caseId);
    r.roles.set(role, ids);
    referenced.set(tool, r);
  };
  for (const { c, p } of prompts) {
    for (const t of toolsOf(c.expect)) ref(t, c.id, 'expected');
    if (c.scorer === 'rubric') ref(c.expect.wrapper ?? 'execute_code', c.id, 'wrapper');
    for (const t of p.tools ?? []) {
      const name = schemaName(t);
      if (name) ref(name, c.id, 'schema');
    }
  }
  const roleText: Record<Role, string> = { expected: 'expected by', wrapper: 'the code wrapper of', schema: 'in the tool schemas of' };
  if (profile.records > 0) {
    for (const [tool, r] of referenced) {
      if (known.has(tool)) continue;
      const suggestion = suggestToolName(tool, candidates);
      const what = [...r.roles].map(([role, ids]) => `${roleText[role]} ${caseList(ids)}`).join('; ');
      let hint = '';
      if (suggestion) {
        const w = profile.called.get(suggestion) ?? profile.inCode.get(suggestion) ?? profile.inSchemas.get(suggestion)!;
        hint = `; did you mean "${suggestion}"? (the training data uses it ${plural(w.count, 'time')}, first at ${recordAt(profile, w)})`;
      }
      const mention = profile.inSystem.has(tool) ? ' (the training system prompt lists it, but no training reply calls it)' : '';
      warnings.push({
        code: 'unknown_tool',
        message: `the tool "${tool}" (${what}) never appears in the training data's tool calls, code or tool schemas${mention}${hint}`,
        caseId: r.cases[0],
        caseIds: r.cases,
        tool,
        suggestion,
      });
    }
  }
  return warnings;
}

/** system_prompt_mismatch: suite system prompts that equal none of the training data's. */
export function systemPromptRule({ profile, prompts }: LintInput): LintWarning[] {
  const warnings: LintWarning[] = [];
  if (profile.chatLike > 0) {
    const bySystem = new Map<string | undefined, string[]>();
    for (const { c, p } of prompts) {
      const first = p.messages[0];
      const system = first?.role === 'system' ? textOf(first.content) : undefined;
      bySystem.set(system, [...(bySystem.get(system) ?? []), c.id]);
    }
    const dataSystems = [...profile.systems.keys()];
    for (const [system, ids] of bySystem) {
      if (system === undefined) {
        if (profile.systems.size > 0 && profile.withoutSystem === 0) {
          warnings.push({
            code: 'system_prompt_mismatch',
            message: `${caseList(ids)} ${ids.length === 1 ? 'has' : 'have'} no system prompt, but every training record has one (${plural(profile.systems.size, 'distinct prompt')}, e.g. ${quote(dataSystems[0])}): the model was never trained without it`,
            caseId: ids[0],
            caseIds: ids,
          });
        }
        continue;
      }
      if (profile.systems.has(system)) continue;
      if (profile.systems.size === 0) {
        warnings.push({
          code: 'system_prompt_mismatch',
          message: `${caseList(ids)} ${ids.length === 1 ? 'gives' : 'give'} a system prompt (${quote(system)}), but no training record has one`,
          caseId: ids[0],
          caseIds: ids,
        });
        continue;
      }
      const closest = closestText(system, dataSystems);
      const d = firstDifference(system, closest);
      let detail: string;
      if (system.trim() === closest.trim() || system.replace(/\s+/g, ' ').trim() === closest.replace(/\s+/g, ' ').trim()) {
        detail = `it differs from the training prompt only in whitespace, first at line ${d.line}, column ${d.column} (eval ${JSON.stringify(d.a)}, training ${JSON.stringify(d.b)})`;
      } else {
        const wd = wordDiff(system, closest);
        const parts = [`first difference at line ${d.line}, column ${d.column}: eval ${JSON.stringify(d.a)} vs training ${JSON.stringify(d.b)}`];
        if (wd.onlyA.length > 0) parts.push(`only in the eval: ${listWords(wd.onlyA)}`);
        if (wd.onlyB.length > 0) parts.push(`only in the training data: ${listWords(wd.onlyB)}`);
        detail = parts.join('; ');
      }
      const count = profile.systems.get(closest)!.count;
      warnings.push({
        code: 'system_prompt_mismatch',
        message:
          `the system prompt of ${caseList(ids)} differs from every system prompt in the training data ` +
          `(${plural(profile.systems.size, 'distinct prompt')}; the closest is used by ${plural(count, 'record')}, first at ${recordAt(profile, profile.systems.get(closest)!)}): ${detail}`,
        caseId: ids[0],
        caseIds: ids,
      });
    }
  }
  return warnings;
}

/** tool_schema_mismatch: tool schema sets of the suite that equal none of the training data's. */
export function schemaSetRule({ profile, prompts }: LintInput): LintWarning[] {
  const warnings: LintWarning[] = [];
  if (profile.chatLike > 0) {
    const bySet = new Map<string, { names: string[]; ids: string[] }>();
    for (const { c, p } of prompts) {
      const names = [...new Set((p.tools ?? []).map(schemaName).filter((n): n is string => n !== undefined))].sort();
      const key = names.join('\n');
      const entry = bySet.get(key) ?? { names, ids: [] };
      entry.ids.push(c.id);
      bySet.set(key, entry);
    }
    const dataSets = [...profile.schemaSets.values()];
    for (const [key, { names, ids }] of bySet) {
      if (names.length === 0) {
        if (dataSets.length > 0 && profile.withoutSchemas === 0) {
          const common = dataSets.sort((a, b) => b.where.count - a.where.count)[0];
          warnings.push({
            code: 'tool_schema_mismatch',
            message: `${caseList(ids)} pass${ids.length === 1 ? 'es' : ''} no tool schemas to the chat template, but every training record has them (e.g. ${listWords(common.names)}): the prompts differ from training`,
            caseId: ids[0],
            caseIds: ids,
          });
        }
        continue;
      }
      if (profile.schemaSets.has(key)) continue;
      if (dataSets.length === 0) {
        warnings.push({
          code: 'tool_schema_mismatch',
          message: `${caseList(ids)} pass${ids.length === 1 ? 'es' : ''} ${plural(names.length, 'tool schema')} (${listWords(names)}) to the chat template, but no training record has tool schemas: the prompts differ from training`,
          caseId: ids[0],
          caseIds: ids,
        });
        continue;
      }
      const set = new Set(names);
      const closest = [...dataSets].sort((a, b) => symDiff(set, a.names) - symDiff(set, b.names) || b.where.count - a.where.count)[0];
      const onlyEval = names.filter((n) => !closest.names.includes(n));
      const onlyData = closest.names.filter((n) => !set.has(n));
      const parts: string[] = [];
      if (onlyEval.length > 0) {
        parts.push(
          `only in the eval: ${onlyEval
            .slice(0, 8)
            .map((n) => {
              const s = suggestToolName(n, onlyData);
              return s ? `${n} (training: ${s}?)` : n;
            })
            .join(', ')}`,
        );
      }
      if (onlyData.length > 0) parts.push(`only in the training data: ${listWords(onlyData)}`);
      warnings.push({
        code: 'tool_schema_mismatch',
        message: `the tool schemas of ${caseList(ids)} differ from every set in the training data (${plural(dataSets.length, 'distinct set')}; closest used by ${plural(closest.where.count, 'record')}): ${parts.join('; ')}`,
        caseId: ids[0],
        caseIds: ids,
      });
    }
  }
  return warnings;
}

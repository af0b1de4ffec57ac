/** The input of every lint rule. */
import type { CasePrompt, EvalSuite } from '../suite.js';
import type { DataProfile } from './profile.js';
import type { LintOptions } from './types.js';

/** What every rule reads: the suite, what the training data holds, each case's prompt, the options. */
export interface LintInput {
  suite: EvalSuite;
  profile: DataProfile;
  prompts: { c: EvalSuite['cases'][number]; p: CasePrompt }[];
  options: LintOptions;
}

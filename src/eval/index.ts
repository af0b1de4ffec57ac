/** Format evals: suites, reply parsing, scorers, statistics. */
export {
  loadSuite,
  parseSuite,
  loadSuiteScorers,
  suiteMessages,
  inferScorer,
  EXPECT_FIELDS,
  type EvalSuite,
  type EvalCase,
  type Expectation,
  type CasePrompt,
} from './suite.js';
export {
  parseReply,
  parseCallBlock,
  parseHermesCall,
  parseQwen3XmlCall,
  splitThinking,
  argumentText,
  codeCallsTool,
  type ParsedCall,
  type ParsedReply,
  type CallError,
  type CallFormat,
  type ThinkState,
} from './parse.js';
export {
  scoreCase,
  registerScorer,
  unregisterScorer,
  getScorer,
  hasScorer,
  scorerNames,
  loadScorerFile,
  rubricScorer,
  formatScorer,
  jsonSchemaScorer,
  regexScorer,
  exactScorer,
  BUILTIN_SCORERS,
  FAILURE_CLASSES,
  type FailureClass,
  type ScoreResult,
  type Scorer,
  type ScorerInput,
  type ScorerOutput,
} from './scorers.js';
export { wilsonInterval, meanInterval, summarizeScores, Z95, type Interval, type MeanSummary, type CaseScore, type CategorySummary, type ScoreSummary } from './stats.js';
export { normalizePrompt, isNearDuplicate, suitePrompts } from './prompts.js';
export { caseConstraint, suiteConstraints, checkConstraints, wrapperGrammar, wholeReplyRegex, CONSTRAINT_KINDS, type CaseConstraint, type ConstraintKind } from './constraint.js';
export { compareConstrained, compareResults, type ConstraintComparison, type CaseComparison } from './compare.js';

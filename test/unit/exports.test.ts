// The package root's runtime exports, pinned: adding or removing one is an API change that must
// show up here (an internal helper exported by accident fails this test).
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import { ERROR_CODES, MlxLabError, isErrorCode, type ErrorCode } from '../../src/index.js';

const RUNTIME_EXPORTS = [
  'BatchIterator',
  'ChatSession',
  'DEFAULT_LOCK_THRESHOLD',
  'Dataset',
  'ERROR_CODES',
  'EarlyStopper',
  'MlxLabError',
  'Model',
  'PreferenceDataset',
  'PromptCache',
  'SINGLE',
  'Tokenizer',
  'attachAdapter',
  'checkGrammarText',
  'compareConstrained',
  'convert',
  'defaultTrainConfig',
  'detectToolFormat',
  'evalBatches',
  'findLatestCheckpoint',
  'formatLintWarnings',
  'fuse',
  'isErrorCode',
  'joinGroup',
  'launch',
  'lintSuiteAgainstData',
  'listCheckpoints',
  'loadConfiguredData',
  'loadData',
  'loadDataArg',
  'loadHfDatasets',
  'loadModel',
  'loadPreferenceData',
  'loadScorerFile',
  'loadSuite',
  'loadTrainConfig',
  'localHosts',
  'lockThresholdOf',
  'logConstrainedCompare',
  'logFusedEval',
  'memory',
  'minePairs',
  'mergeConfig',
  'modelCard',
  'parseHostFile',
  'parseModelConfig',
  'parseSuite',
  'parseToolCalls',
  'parseTrainConfig',
  'planSweep',
  'planUpload',
  'readHosts',
  'readManifest',
  'readModelFolder',
  'readTrainingRecords',
  'registerScorer',
  'reselect',
  'runEval',
  'runExperiment',
  'runSweep',
  'runtime',
  'scoreCase',
  'selectCheckpoint',
  'suiteRollout',
  'summarizeRun',
  'summarizeRuns',
  'suiteConstraints',
  'summarizeScores',
  'train',
  'uploadToHub',
  'validateTrainConfig',
  'wilsonInterval',
  'writePairs',
];

describe('the package root', () => {
  it('exports exactly the public runtime names', () => {
    expect(Object.keys(api).sort()).toEqual([...RUNTIME_EXPORTS].sort());
  });

  it('leaks no native handle or internal helper', () => {
    for (const name of ['native', 'nativeHandle', 'NativeTrainer', 'trainerOptions', 'mean', 'std', 'median', 'describeValues', 'formatRunLine', 'runDemo']) {
      expect(api).not.toHaveProperty(name);
    }
    expect(Object.getOwnPropertyNames(api.Model.prototype)).not.toContain('native');
  });

  it('exports the error codes as one list that MlxLabError.code is typed by', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES.every((c) => /^E_[A-Z_]+$/.test(c))).toBe(true);
    const err = new MlxLabError('E_CONFIG', 'x');
    const code: ErrorCode = err.code; // a union, not string: this line type-checks only then
    expect(isErrorCode(code)).toBe(true);
    expect(isErrorCode('E_NOPE')).toBe(false);
    // A code outside the list (a newer addon) is E_INTERNAL, so the union holds at run time.
    expect(new MlxLabError('E_NOPE' as ErrorCode, 'x').code).toBe('E_INTERNAL');
    expect(new MlxLabError('E_IO', 'disk (ENOSPC)').code).toBe('E_NO_SPACE');
  });
});

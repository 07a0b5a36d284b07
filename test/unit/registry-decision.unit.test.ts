// The registry's audit reasons and the CLI's rendering of the release gate's decision, without servers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionCell, decisionLines } from '../../services/cli/models.js';
import { checkChangedBy, publishReason, type VersionDecision } from '../../services/registry/index.js';

const rejected: VersionDecision = {
  outcome: 'rejected',
  reasons: ['critic loss 20000 is above PUBLISH_MAX_LOSS 10000', 'off-policy estimate fell'],
  baselineVersion: 7, baselinePinned: true, numbers: { liveValue: 1.1, candidateValue: 0.8 },
};

test("a publish is audited with the gate's reasons joined, or 'published' when it gave none", () => {
  assert.equal(publishReason(rejected), 'critic loss 20000 is above PUBLISH_MAX_LOSS 10000; off-policy estimate fell');
  assert.equal(publishReason({ ...rejected, reasons: [] }), 'published');
  assert.equal(publishReason({ ...rejected, reasons: ['  ', ''] }), 'published', 'blank reasons say nothing');
  assert.equal(publishReason(undefined), 'published');
});

test('an operator change needs an actor and a reason', () => {
  assert.deepEqual(checkChangedBy({ actor: ' cli:ana ', reason: ' bad cart page ' }), { actor: 'cli:ana', reason: 'bad cart page' });
  assert.throws(() => checkChangedBy({ actor: 'cli:ana', reason: ' ' }), /by cli:ana needs a reason for the audit trail \(--reason TEXT\)/);
  assert.throws(() => checkChangedBy({ actor: '', reason: 'x' }), /needs an actor/);
});

test("models list shows the outcome and the first reason, shortened; models show prints all of it", () => {
  assert.equal(decisionCell(null), '');
  assert.equal(decisionCell({ ...rejected, reasons: [] }), 'rejected');
  assert.equal(decisionCell(rejected), 'rejected: critic loss 20000 is above PUBLISH_MA… (+1)');
  assert.equal(decisionCell({ ...rejected, outcome: 'promoted', reasons: ['losses finite'] }), 'promoted: losses finite');
  assert.deepEqual(decisionLines(rejected), [
    'decision: rejected',
    '  baseline: version 7 (pinned)',
    '  reasons:',
    '    - critic loss 20000 is above PUBLISH_MAX_LOSS 10000',
    '    - off-policy estimate fell',
    '  numbers:',
    '    candidateValue: 0.8',
    '    liveValue: 1.1',
  ]);
  assert.deepEqual(decisionLines({ ...rejected, reasons: [], baselineVersion: null, numbers: {} }), [
    'decision: rejected', '  baseline: none', '  reasons:', '    (none given)', '  numbers:', '    (none)',
  ]);
  assert.deepEqual(decisionLines(null), ['decision: none recorded']);
});

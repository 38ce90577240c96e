// The Fine-tuning data page's helpers (Sources/WendaoServer/UI/tune.js): run with `node --test Tests/ui/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { examplesQuery, keyAction, move, stateKey, datasetPath, examplePath } from '../../Sources/WendaoServer/UI/tune.js';

test('the examples query keeps the filters given, trimmed, and pages', () => {
  assert.equal(examplesQuery({}, 0, 50), '?limit=50');
  assert.equal(examplesQuery({ split: 'test', style: '', status: ' kept ', review: 'none', q: '保价 费' }, 100, 50),
    '?split=test&status=kept&review=none&q=%E4%BF%9D%E4%BB%B7+%E8%B4%B9&offset=100&limit=50');
  assert.equal(examplesQuery({ split: 7 }, 0), '?limit=50', 'a value that is not text is left out');
});

test('paths encode names and ids', () => {
  assert.equal(datasetPath('客服-v1'), '/api/v1/tune/datasets/%E5%AE%A2%E6%9C%8D-v1');
  assert.equal(examplePath('a', 'c1/x'), '/api/v1/tune/datasets/a/examples/c1%2Fx');
});

test('keys: j/k/a/r/e act, but not in a field nor with a modifier', () => {
  const on = (key, extra) => keyAction({ key, target: { tagName: 'BODY' }, ...extra });
  assert.equal(on('j'), 'next');
  assert.equal(on('k'), 'prev');
  assert.equal(on('ArrowDown'), 'next');
  assert.equal(on('a'), 'approve');
  assert.equal(on('r'), 'reject');
  assert.equal(on('e'), 'edit');
  assert.equal(on('x'), null);
  assert.equal(on('A'), null);
  assert.equal(on('r', { ctrlKey: true }), null, 'Ctrl+R reloads the page, it does not reject');
  assert.equal(on('a', { metaKey: true }), null);
  for (const tagName of ['INPUT', 'textarea', 'SELECT']) assert.equal(on('a', { target: { tagName } }), null, tagName);
  assert.equal(on('a', { target: { tagName: 'DIV', isContentEditable: true } }), null);
  assert.equal(keyAction(null), null);
});

test('a move stays on the page, turns it, or stops at either end', () => {
  assert.deepEqual(move(0, 1, 3, 0, 3), { index: 1 });
  assert.deepEqual(move(2, 1, 3, 0, 3), {}, 'the last example of the last page');
  assert.deepEqual(move(2, 1, 3, 0, 10), { page: 1 });
  assert.deepEqual(move(0, -1, 3, 0, 3), {}, 'the first example');
  assert.deepEqual(move(0, -1, 50, 50, 120), { page: -1 });
  assert.deepEqual(move(-1, 1, 0, 0, 0), {}, 'an empty page');
});

test('an example is described by its review, else by kept/dropped', () => {
  assert.equal(stateKey({ status: 'kept' }), 'tune.status.kept');
  assert.equal(stateKey({ status: 'dropped' }), 'tune.status.dropped');
  assert.equal(stateKey({ status: 'dropped', review: 'rejected' }), 'tune.review.rejected');
  assert.equal(stateKey({ status: 'kept', review: 'edited' }), 'tune.review.edited');
});

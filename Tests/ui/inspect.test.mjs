// The model page's pure helpers (Sources/WendaoServer/UI/inspect.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { visiblePiece, tokenClass, percent, inspectRequest } from '../../Sources/WendaoServer/UI/inspect.js';

test('pieces are made visible', () => {
  assert.equal(visiblePiece(' Hello'), '␣Hello');
  assert.equal(visiblePiece('a\nb\tc'), 'a↵b⇥c');
  assert.equal(visiblePiece(''), '∅');
  assert.equal(visiblePiece(undefined), '∅');
  assert.equal(visiblePiece('冷链'), '冷链');
});

test('neighbouring tokens get different colours', () => {
  for (let i = 0; i < 20; i++) assert.notEqual(tokenClass(i), tokenClass(i + 1));
  assert.equal(tokenClass(8), tokenClass(0));
  assert.equal(tokenClass(-1), 'tok tok-7');
});

test('probabilities as percentages', () => {
  assert.equal(percent(0.125), '12.5 %');
  assert.equal(percent(1), '100.0 %');
  assert.equal(percent(0.0004), '<0.1 %');
  assert.equal(percent(0), '0.0 %');
  assert.equal(percent(NaN), '—');
  assert.equal(percent('x'), '—');
});

test('the request is checked as the server checks it', () => {
  const ok = inspectRequest({ model: 'local:smollm2-135m', text: 'hi', steps: '16', top: '5', temperature: '0', chat: true });
  assert.deepEqual(ok, { ok: true, body: { model: 'local:smollm2-135m', text: 'hi', steps: 16, top: 5, temperature: 0, chat: true } });
  assert.equal(inspectRequest({ text: '  ', steps: '1', top: '1', temperature: '0' }).error, 'inspect.needText');
  assert.equal(inspectRequest({ text: 'x'.repeat(8001), steps: '1', top: '1', temperature: '0' }).error, 'inspect.tooLong');
  assert.equal(inspectRequest({ text: 'x', steps: '65', top: '1', temperature: '0' }).error, 'inspect.badNumbers');
  assert.equal(inspectRequest({ text: 'x', steps: '1', top: '0', temperature: '0' }).error, 'inspect.badNumbers');
  assert.equal(inspectRequest({ text: 'x', steps: '1', top: '3', temperature: '2.5' }).error, 'inspect.badNumbers');
  const raw = inspectRequest({ text: 'x', steps: '0', top: '3', temperature: '0.7', chat: false });
  assert.equal(raw.body.chat, false);
  assert.equal('model' in raw.body, false);
});

// The knowledge-base choice of a fresh browser (Sources/WendaoServer/UI/kbs.js). Run with
// `node --test Tests/ui/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKb } from '../../Sources/WendaoServer/UI/kbs.js';

test('a fresh browser starts with the knowledge base that has the most documents', () => {
  const kbs = [
    { name: 'a-empty', documents: 0 },
    { name: '客服知识库', documents: 12 },
    { name: 'manuals', documents: 3 },
  ];
  assert.equal(defaultKb(kbs), '客服知识库');
});

test('ties go to the first name; nothing to choose gives an empty name', () => {
  assert.equal(defaultKb([{ name: 'b', documents: 2 }, { name: 'a', documents: 2 }]), 'a');
  assert.equal(defaultKb([{ name: 'only' }]), 'only');
  assert.equal(defaultKb([]), '');
  assert.equal(defaultKb(null), '');
});

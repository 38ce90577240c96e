// Conversations as data (Sources/WendaoServer/UI/conversations.js): list and export URLs, stored
// turns as chat turns, feedback bodies. Run with `node --test Tests/ui/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  conversationQuery, listURL, exportURL, conversationPath, feedbackPath, turnFromStored,
  feedbackBody, conversationTitle, dateValue, MAX_NOTE,
} from '../../Sources/WendaoServer/UI/conversations.js';
import { newTurn, applyAnswer } from '../../Sources/WendaoServer/UI/answer.js';

test('filters become a query string; empty and invalid ones are left out', () => {
  assert.equal(conversationQuery({}), '');
  assert.equal(conversationQuery(null), '');
  assert.equal(
    conversationQuery({ kb: '客服 知识库/1', from: '2026-12-01', to: '2026-12-31', notFound: true, thumbsDown: true }),
    '?kb=%E5%AE%A2%E6%9C%8D+%E7%9F%A5%E8%AF%86%E5%BA%93%2F1&from=2026-12-01&to=2026-12-31&not_found=true&thumbs_down=true');
  assert.equal(conversationQuery({ from: '2026-13-01', to: 'yesterday', notFound: false }), '');
  assert.equal(conversationQuery({ limit: 50, cursor: '1765065600.5_12' }), '?limit=50&cursor=1765065600.5_12');
  assert.equal(conversationQuery({ limit: 500 }), '', 'a page size the server refuses is not sent');
  assert.equal(dateValue('2026-02-31'), '2026-02-31');
  assert.equal(dateValue(''), '');
});

test('list and export URLs; export never pages', () => {
  assert.equal(listURL({ kb: 'a', limit: 20 }), '/api/v1/conversations?kb=a&limit=20');
  assert.equal(exportURL({ kb: 'a', limit: 20, cursor: 'x_1', thumbsDown: true }), '/api/v1/conversations.csv?kb=a&thumbs_down=true');
  assert.equal(conversationPath(12), '/api/v1/conversations/12');
  assert.equal(feedbackPath(12, 34), '/api/v1/conversations/12/turns/34/feedback');
});

test('a stored turn becomes an answered chat turn with its feedback', () => {
  const turn = turnFromStored({
    id: 7, conversation_id: 3, question: '那续重呢？', answer: '续重每公斤收费3元。[1]', found: true, mode: 'extractive',
    model: null, citations: [{ n: 1, document: 'pricing.md', section: '价格', page: null, chunk_id: 5, text: '续重每公斤收费3元。' }],
    carried: '首重 收费', warnings: [], duration_ms: 12, complete: true, created_at: '2026-12-06T00:00:00.000Z',
    feedback: { rating: 'down', note: '过时', at: '2026-12-06T00:01:00.000Z' },
  }, 'facts');
  assert.equal(turn.state, 'done');
  assert.equal(turn.kb, 'facts');
  assert.equal(turn.question, '那续重呢？');
  assert.equal(turn.text, '续重每公斤收费3元。[1]');
  assert.equal(turn.citations.get(1).chunk_id, 5);
  assert.equal(turn.turnId, 7);
  assert.equal(turn.conversationId, 3);
  assert.equal(turn.carried, '首重 收费');
  assert.equal(turn.rating, 'down');
  assert.equal(turn.note, '过时');
  const cut = turnFromStored({ id: 8, question: 'q', answer: '', complete: false, feedback: null }, 'facts');
  assert.equal(cut.state, 'interrupted');
  assert.equal(cut.rating, '');
  const bare = turnFromStored(null, 'facts');
  assert.equal(bare.question, '');
  assert.equal(bare.turnId, null);
});

test('ids returned with an answer are kept', () => {
  const turn = newTurn('q', 'kb');
  assert.equal(turn.conversationId, null);
  applyAnswer(turn, { answer: 'a', conversation_id: 4, turn_id: 9 });
  assert.equal(turn.conversationId, 4);
  assert.equal(turn.turnId, 9);
  applyAnswer(turn, { answer: 'a', conversation_id: '5' });
  assert.equal(turn.conversationId, 4, 'only numbers are taken');
});

test('feedback bodies: up or down, a trimmed note, too long refused', () => {
  assert.deepEqual(feedbackBody('up', ''), { rating: 'up' });
  assert.deepEqual(feedbackBody('down', '  价格已过时  '), { rating: 'down', note: '价格已过时' });
  assert.deepEqual(feedbackBody('down', '   '), { rating: 'down' });
  assert.deepEqual(feedbackBody('meh', 'x'), { error: 'rating' });
  assert.deepEqual(feedbackBody('down', '长'.repeat(MAX_NOTE)), { rating: 'down', note: '长'.repeat(MAX_NOTE) });
  assert.deepEqual(feedbackBody('down', '长'.repeat(MAX_NOTE + 1)), { error: 'note_too_long' });
  // Characters, not UTF-16 units: 2,000 emoji fit.
  assert.equal(feedbackBody('up', '😀'.repeat(MAX_NOTE)).error, undefined);
});

test('titles', () => {
  assert.equal(conversationTitle({ id: 3, title: ' 首重怎么收费？ ' }), '首重怎么收费？');
  assert.equal(conversationTitle({ id: 3, title: '' }), '#3');
});

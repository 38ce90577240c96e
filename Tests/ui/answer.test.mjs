// A turn as data (Sources/WendaoServer/UI/answer.js): the `ask` stream's events, the Answer JSON,
// the warnings shown by code and the usage line. Run with `node --test Tests/ui/`.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { setLang } from '../../Sources/WendaoServer/UI/i18n.js';
import { SSEParser } from '../../Sources/WendaoServer/UI/sse.js';
import { newTurn, applyAskEvent, applyAnswer, warningItems, warningText, usageLine } from '../../Sources/WendaoServer/UI/answer.js';

afterEach(() => setLang('en'));

/** A turn that has the final Answer `a`. */
function answered(a) {
  const turn = newTurn('包裹丢了最多赔多少钱？', '客服知识库');
  applyAnswer(turn, a);
  return turn;
}

const ev = (event, data) => ({ event, data: typeof data === 'string' ? data : JSON.stringify(data), id: '' });

test('the stream\'s events build the turn', () => {
  const turn = newTurn('q', 'kb');
  assert.equal(turn.state, 'waiting');
  assert.equal(applyAskEvent(turn, ev('sources', { sources: [{ n: 1, document: 'a.md', chunk_id: 4 }] })), 'continue');
  assert.equal(turn.state, 'streaming');
  assert.equal(turn.sources.get(1).document, 'a.md');
  applyAskEvent(turn, ev('token', { text: '首重12元' }));
  applyAskEvent(turn, ev('token', { text: '[1]。' }));
  assert.equal(turn.text, '首重12元[1]。');
  assert.equal(turn.gotToken, true);
  applyAskEvent(turn, ev('citations', { citations: [{ n: 1, document: 'a.md' }], invalid_citations: [4], found: true }));
  assert.deepEqual(turn.invalid, [4]);
  assert.equal(turn.found, true);
  applyAskEvent(turn, ev('usage', { prompt_tokens: 10, completion_tokens: 2 }));
  assert.equal(turn.usage.prompt_tokens, 10);
  assert.equal(applyAskEvent(turn, ev('ping', {})), 'ignored');
  assert.equal(applyAskEvent(turn, ev('done', { answer: '首重12元[1]。', mode: 'llm', model: 'deepseek:chat', coverage: 0.8 })), 'continue');
  assert.equal(turn.state, 'done');
  assert.equal(turn.model, 'deepseek:chat');
  assert.equal(turn.answered, true);
  assert.equal(turn.answeredBy, '');
});

test('the answer says when the answer guard gave the extractive answer instead of the model\'s', () => {
  const turn = newTurn('首重多少钱？', 'kb');
  applyAskEvent(turn, ev('done', {
    answer: '首重12元。 [1]', mode: 'llm', model: 'local:qwen2.5-0.5b', answered_by: 'extractive',
    answer_guard: { checked_sentences: 1, shown_sentences: 0, dropped_sentences: 1, cited_by_guard: 0, fallback_reason: 'x' },
  }));
  assert.equal(turn.answeredBy, 'extractive');
  assert.equal(turn.text, '首重12元。 [1]');
});

test('an error event stops reading with the server\'s message', () => {
  const turn = newTurn('q', 'kb');
  assert.equal(applyAskEvent(turn, ev('error', { error: { code: 'unavailable', message: 'model down' } })), 'stop');
  assert.deepEqual([turn.state, turn.error], ['error', 'model down']);
  const bad = newTurn('q', 'kb');
  assert.equal(applyAskEvent(bad, ev('error', 'not json')), 'stop');
  assert.equal(bad.error, 'The server sent a response this page cannot read.');
});

test('a whole stream through the SSE parser', () => {
  const p = new SSEParser();
  const turn = newTurn('q', 'kb');
  const raw = 'event: token\ndata: {"text":"客服"}\n\nevent: token\ndata: {"text":"知识库"}\n\nevent: done\ndata: {"answer":"客服知识库[1]","warnings":[],"warning_details":[]}\n\n';
  for (let i = 0; i < raw.length; i += 5) for (const e of p.feed(raw.slice(i, i + 5))) applyAskEvent(turn, e);
  assert.equal(turn.text, '客服知识库[1]');
  assert.equal(turn.state, 'done');
  assert.deepEqual(warningItems(turn), []);
});

const DETAILED = {
  answer: '答案[1]',
  invalid_citations: [4, 7],
  uncited: true,
  removed_images: 2,
  truncated_context: true,
  warnings: [
    'the answer cites no source: check it against the sources before relying on it',
    'removed citation markers that point at no source: [4], [7] (there were 3 sources)',
    'removed 2 remote image(s) from the answer',
    "the best passage was cut to fit the model's context window",
    'the model stopped at its length limit',
    'something new',
  ],
  warning_details: [
    { code: 'uncited', message: 'the answer cites no source: check it against the sources before relying on it' },
    { code: 'invalid_citations', message: 'removed citation markers that point at no source: [4], [7] (there were 3 sources)' },
    { code: 'removed_images', message: 'removed 2 remote image(s) from the answer' },
    { code: 'context_truncated', message: "the best passage was cut to fit the model's context window" },
    { code: 'length_limit', message: 'the model stopped at its length limit' },
    { code: 'other', message: 'something new' },
  ],
};

test('warnings by code: the known ones in the UI\'s words, the others as the server says them', () => {
  assert.deepEqual(warningItems(answered(DETAILED)), [
    'The answer cites no source: check it against the sources before relying on it.',
    'Citation markers that pointed at no source were removed: [4], [7]',
    'Remote images removed from the answer: 2',
    'The best passage was cut to fit the model\u2019s context window.',
    'the model stopped at its length limit',
    'something new',
  ]);
  setLang('zh');
  assert.deepEqual(warningItems(answered(DETAILED)), [
    '该回答没有引用任何来源：使用前请对照来源核实。',
    '已删除指向不存在来源的引用标记：[4], [7]',
    '已从回答中移除远程图片：2 张',
    '最相关的段落因模型上下文长度限制被截断。',
    'the model stopped at its length limit',
    'something new',
  ]);
});

test('warnings by code: order, empty_answer and content_filter, codes added later, malformed entries', () => {
  const turn = answered({
    warnings: ['a', 'b', 'c', 'd'],
    warning_details: [
      { code: 'content_filter', message: 'the provider filtered the answer' },
      { code: 'empty_answer', message: 'the model returned no text' },
      { code: 'some_future_code', message: 'a future warning' },
      { code: 'other', message: '' },
      null,
      { message: 'no code' },
      { code: 'uncited' },
    ],
  });
  assert.deepEqual(warningItems(turn), [
    'the provider filtered the answer', 'the model returned no text', 'a future warning', 'no code',
    'The answer cites no source: check it against the sources before relying on it.',
  ]);
});

test('warnings by code: the message stands in when the structured field is missing', () => {
  const turn = answered({ warning_details: [{ code: 'invalid_citations', message: 'removed [9]' }, { code: 'removed_images', message: 'removed 1 image' }] });
  assert.deepEqual(warningItems(turn), ['removed [9]', 'removed 1 image']);
  assert.equal(warningText(turn, { code: 'context_truncated', message: 'x' }), 'The best passage was cut to fit the model\u2019s context window.');
});

test('warnings by code: the structured fields alone show nothing the server did not warn about', () => {
  const turn = answered({ ...DETAILED, warning_details: [] });
  assert.deepEqual(warningItems(turn), []);
});

test('a server without warning_details: its warnings as sent, no matching of their words', () => {
  const { warning_details: _, ...older } = DETAILED;
  assert.deepEqual(warningItems(answered(older)), DETAILED.warnings);
  setLang('zh');
  assert.deepEqual(warningItems(answered(older)), DETAILED.warnings);
  assert.deepEqual(warningItems(answered({ answer: 'x', warnings: ['w', 3, ''] })), ['w']);
  assert.deepEqual(warningItems(answered({ answer: 'x' })), []);
});

test('before the final answer: the citation markers the stream reported as removed', () => {
  const turn = newTurn('q', 'kb');
  assert.deepEqual(warningItems(turn), []);
  applyAskEvent(turn, ev('citations', { citations: [], invalid_citations: [3] }));
  assert.deepEqual(warningItems(turn), ['Citation markers that pointed at no source were removed: [3]']);
  applyAskEvent(turn, ev('done', { answer: 'x', invalid_citations: [3], warnings: ['w3'], warning_details: [{ code: 'invalid_citations', message: 'w3' }] }));
  assert.deepEqual(warningItems(turn), ['Citation markers that pointed at no source were removed: [3]']);
});

test('applyAnswer reads the structured fields and ignores what is not an object', () => {
  const turn = answered({ answer: 'a', found: false, mode: 'extractive', coverage: 0.25, removed_images: 'x', uncited: 'yes' });
  assert.deepEqual([turn.text, turn.found, turn.mode, turn.coverage, turn.removedImages, turn.uncited], ['a', false, 'extractive', 0.25, 0, false]);
  const same = newTurn('q', 'kb');
  applyAnswer(same, null);
  applyAnswer(same, 'text');
  assert.equal(same.answered, false);
});

test('usageLine', () => {
  assert.equal(usageLine(null), '');
  assert.equal(usageLine({ model: 'x' }), '');
  assert.equal(
    usageLine({ prompt_tokens: 1200, completion_tokens: 30, cached_prompt_tokens: 1000, estimated: true, calls: 2, cost: 0.0012, currency: 'CNY', seconds: 1.26, model: 'deepseek:deepseek-chat' }),
    'Tokens: 1,200 prompt + 30 completion = 1,230 · 1,000 cached · estimated · 2 model calls · cost 0.0012 CNY · 1.3 s · deepseek:deepseek-chat');
  setLang('zh');
  assert.equal(usageLine({ prompt_tokens: 5, completion_tokens: 1, total_tokens: 7, calls: 1 }), 'Token：提示 5 + 生成 1 = 7');
});

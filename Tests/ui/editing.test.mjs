// The pure parts of the document page and of curated answers (editing.js) and the document route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { correctionDraft, canCorrect, chunkBadges, chunkTextProblem, isCurated, preview, MAX_CHUNK_CHARS }
  from '../../Sources/WendaoServer/UI/editing.js';
import { docRoute, docsRoute, parseRoute } from '../../Sources/WendaoServer/UI/routes.js';
import { sourceLabel, citationLabel } from '../../Sources/WendaoServer/UI/citations.js';
import { setLang } from '../../Sources/WendaoServer/UI/i18n.js';

test('correctionDraft: the question and the answer without citation markers', () => {
  const turn = { question: '首重多少钱？', text: '首重收费12元[1]，续重3元[2]。', state: 'done', kb: '客服' };
  assert.deepEqual(correctionDraft(turn), { question: '首重多少钱？', answer: '首重收费12元，续重3元。' });
  assert.deepEqual(correctionDraft(null), { question: '', answer: '' });
  assert.equal(canCorrect(turn), true);
  assert.equal(canCorrect({ ...turn, state: 'streaming' }), false);
  assert.equal(canCorrect({ ...turn, kb: '' }), false);
  assert.equal(canCorrect({ ...turn, question: '  ' }), false);
});

test('chunkBadges and chunkTextProblem', () => {
  assert.deepEqual(chunkBadges({ enabled: true, edited: false }), []);
  assert.deepEqual(chunkBadges({ enabled: false, edited: true }), ['doc.edited', 'doc.disabled']);
  assert.equal(chunkTextProblem('  \n '), 'doc.emptyText');
  assert.equal(chunkTextProblem(undefined), 'doc.emptyText');
  assert.equal(chunkTextProblem('新文本'), '');
  assert.equal(chunkTextProblem('字'.repeat(MAX_CHUNK_CHARS)), '');
  assert.equal(chunkTextProblem('字'.repeat(MAX_CHUNK_CHARS + 1)), 'error.tooLong');
  // Characters, not UTF-16 units: 20,000 astral characters are allowed.
  assert.equal(chunkTextProblem('𠀀'.repeat(MAX_CHUNK_CHARS)), '');
});

test('curated citations are labelled as curated answers, in both languages', () => {
  const c = { n: 1, kind: 'curated', curated_id: 3, document: '', section: '蓝鲸专线哪天发车？', chunk_id: 0, text: '每周三。' };
  assert.equal(isCurated(c), true);
  assert.equal(isCurated({ n: 1, document: 'a.md' }), false);
  setLang('zh');
  assert.equal(sourceLabel(c), '人工答案 › 蓝鲸专线哪天发车？');
  assert.equal(citationLabel(c, 1), '来源 1：人工答案 › 蓝鲸专线哪天发车？');
  setLang('en');
  assert.equal(sourceLabel(c), 'Curated answer › 蓝鲸专线哪天发车？');
  assert.equal(sourceLabel({ document: 'a.md', section: 'S' }), 'a.md › S');
});

test('preview cuts whole characters', () => {
  assert.equal(preview('一二三四五', 3), '一二三…');
  assert.equal(preview('a\n\n b', 10), 'a b');
  assert.equal(preview('😀😀😀', 2), '😀😀…');
  assert.equal(preview(null, 3), '');
});

test('docRoute / parseRoute: a document page of a Chinese-named knowledge base', () => {
  for (const kb of ['客服知识库', 'a/b', 'Café.v2-知识_1', '%2F..']) {
    assert.deepEqual(parseRoute(docRoute(kb, 42)), { view: 'doc', kb, doc: '42' }, kb);
  }
  assert.equal(docRoute('客服', 7), '#/doc/7/' + encodeURIComponent('客服'));
  // A bad id goes back to the documents of the knowledge base; no name goes to the list.
  assert.deepEqual(parseRoute('#/doc/abc/kb'), { redirect: docsRoute('kb') });
  assert.deepEqual(parseRoute('#/doc/0/kb'), { redirect: docsRoute('kb') });
  assert.deepEqual(parseRoute('#/doc/12'), { redirect: '#/kbs' });
  assert.deepEqual(parseRoute('#/doc/12/%E0%A4%A'), { redirect: '#/kbs' });
});

test('correctionTarget: a curated answer is edited, any other answer corrected', async () => {
  const { correctionTarget, curatedPatch } = await import('../../Sources/WendaoServer/UI/editing.js');
  const curated = { n: 1, kind: 'curated', curated_id: 9, document: '', section: '问？', chunk_id: 0, text: '答。' };
  const turn = { mode: 'curated', citations: new Map([[1, curated]]) };
  assert.deepEqual(correctionTarget(turn), { mode: 'edit', entry: { id: 9, question: '问？', answer: '答。' } });
  assert.deepEqual(correctionTarget({ mode: 'extractive', citations: new Map([[1, { n: 1, document: 'a.md' }]]) }), { mode: 'correct' });
  assert.deepEqual(correctionTarget(null), { mode: 'correct' });
  // The note is sent only when it changed: an entry opened from the chat (note unknown) keeps its note.
  assert.deepEqual(curatedPatch({ id: 9 }, 'q', 'a', ''), { question: 'q', answer: 'a' });
  assert.deepEqual(curatedPatch({ id: 9, note: 'old' }, 'q', 'a', 'old'), { question: 'q', answer: 'a' });
  assert.deepEqual(curatedPatch({ id: 9, note: 'old' }, 'q', 'a', ''), { question: 'q', answer: 'a', note: '' });
});

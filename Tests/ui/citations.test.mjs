// Citation helpers (Sources/WendaoServer/UI/citations.js): run with `node --test Tests/ui/`.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { setLang } from '../../Sources/WendaoServer/UI/i18n.js';
import {
  splitAnswer, stripMarkers, citedClaims, sentenceSpans, matchTerms, mergeRanges, findHighlights, queryTermRanges,
  citationMap, lookupCitation, sourceLabel, citationLabel, sourceRefLabel,
} from '../../Sources/WendaoServer/UI/citations.js';

afterEach(() => setLang('en'));

const text = (s, ranges) => ranges.map(([a, b]) => s.slice(a, b));

test('splitAnswer: text and [n] markers; a markdown link [1](url) is not a citation', () => {
  assert.deepEqual(splitAnswer('首重12元[1]，续重3元[2][3]。'), [
    { type: 'text', value: '首重12元' }, { type: 'cite', value: '[1]', n: 1 },
    { type: 'text', value: '，续重3元' }, { type: 'cite', value: '[2]', n: 2 }, { type: 'cite', value: '[3]', n: 3 },
    { type: 'text', value: '。' },
  ]);
  assert.deepEqual(splitAnswer('see [1](http://x) and [1234]'), [{ type: 'text', value: 'see [1](http://x) and [1234]' }]);
  assert.deepEqual(splitAnswer(''), []);
  // The regular expression is global: a second call starts from the beginning again.
  assert.equal(splitAnswer('a[1]').length, 2);
  assert.equal(splitAnswer('a[1]').length, 2);
});

test('stripMarkers removes the markers for the history sent with follow-up questions', () => {
  assert.equal(stripMarkers('首重12元[1]。 [2]\n续重3元[3]'), '首重12元。\n续重3元');
});

test('citedClaims: the text before each marker run that holds [n]', () => {
  const answer = '标准快递首重收费12元[1]。续重每公斤3元[1][2]。保价费1%[3]。';
  assert.deepEqual(citedClaims(answer, 1), ['标准快递首重收费12元', '续重每公斤3元']);
  assert.deepEqual(citedClaims(answer, 2), ['续重每公斤3元']);
  assert.deepEqual(citedClaims(answer, 4), []);
  // A run right after another reuses its text.
  assert.deepEqual(citedClaims('A claim here [1], [2]', 2), ['A claim here']);
});

test('sentenceSpans: Chinese and Western sentence ends, closing quotes kept with their sentence', () => {
  const s = '第一句。第二句！“第三句。”Fourth one. Fifth';
  assert.deepEqual(text(s, sentenceSpans(s)), ['第一句。', '第二句！', '“第三句。”', 'Fourth one.', 'Fifth']);
  assert.deepEqual(sentenceSpans('3.5 kg'), [[0, 6]], 'a decimal point ends no sentence');
});

test('matchTerms: Latin words and numbers, Chinese character pairs', () => {
  assert.deepEqual([...matchTerms('保价费 Fee 1%')].sort(), ['1', 'fee', '价费', '保价'].sort());
});

test('mergeRanges merges overlapping and touching ranges and drops empty ones', () => {
  assert.deepEqual(mergeRanges([[5, 8], [0, 2], [2, 3], [7, 10], [4, 4]]), [[0, 3], [5, 10]]);
});

test('findHighlights: verbatim claim, else a paraphrase by shared terms, else the citation text', () => {
  const chunk = '# 价格说明\n\n标准快递首重收费12元，续重每公斤收费3元。保价费按声明价值的1%收取。';
  assert.deepEqual(text(chunk, findHighlights(chunk, ['保价费按声明价值的1%收取。'], '')), ['保价费按声明价值的1%收取。']);
  assert.deepEqual(text(chunk, findHighlights(chunk, ['保价的费用是声明价值的1%'], '')), ['保价费按声明价值的1%收取。']);
  assert.deepEqual(text(chunk, findHighlights(chunk, ['completely unrelated'], '续重每公斤收费3元')), ['续重每公斤收费3元']);
  assert.deepEqual(findHighlights(chunk, [], ''), []);
});

test('queryTermRanges: query words and Chinese pairs in a search hit', () => {
  const hit = '包裹丢失最多赔偿声明价值，Parcel lost.';
  // 包裹丢了 gives the pairs 包裹, 裹丢, 丢了: the first two overlap in the hit and merge.
  assert.deepEqual(text(hit, queryTermRanges(hit, '包裹丢了 parcel')), ['包裹丢', 'Parcel']);
});

test('citation labels in both languages', () => {
  const c = { n: 2, document: 'pricing.md', section: '保价', page: 3, chunk_id: 9 };
  assert.equal(sourceLabel(c), 'pricing.md › 保价');
  assert.equal(sourceLabel({ document: 'a.md' }), 'a.md');
  assert.equal(sourceLabel(null), '');
  assert.equal(citationLabel(c, 2), 'Source 2: pricing.md › 保价');
  assert.equal(citationLabel({ n: 5 }, 5), 'Source 5');
  assert.equal(sourceRefLabel(c), 'pricing.md › 保价 · page 3');
  assert.equal(sourceRefLabel({ document: 'a.md', page: null }), 'a.md');
  setLang('zh');
  assert.equal(citationLabel(c, 2), '来源 2：pricing.md › 保价');
  assert.equal(citationLabel({}, 1), '来源 1');
  assert.equal(sourceRefLabel(c), 'pricing.md › 保价 · 第 3 页');
});

test('citationMap and lookupCitation: the answer\'s citation, else the source given before it', () => {
  const citations = citationMap([{ n: 1, document: 'a' }, { n: 'x' }, null]);
  assert.deepEqual([...citations.keys()], [1]);
  const turn = { citations, sources: citationMap([{ n: 1, document: 'old' }, { n: 2, document: 'b' }]) };
  assert.equal(lookupCitation(turn, 1).document, 'a');
  assert.equal(lookupCitation(turn, 2).document, 'b');
  assert.equal(lookupCitation(turn, 3), null);
  assert.equal(citationMap(undefined).size, 0);
});

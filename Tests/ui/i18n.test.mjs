// The web UI's strings and formatting (Sources/WendaoServer/UI/i18n.js, settings.js): run with
// `node --test Tests/ui/`.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { I18N, LANGS, t, getLang, setLang, pickLang, fmtNumber, fmtBytes, fmtDate } from '../../Sources/WendaoServer/UI/i18n.js';
import { initialLang } from '../../Sources/WendaoServer/UI/settings.js';

afterEach(() => setLang('en'));

/** The placeholder names of a string: {name} and {name|one|other}. */
function placeholders(s) {
  return [...new Set([...s.matchAll(/\{(\w+)[}|]/g)].map((m) => m[1]))].sort();
}

test('both languages have the same keys, each with the same placeholders', () => {
  assert.deepEqual(LANGS, ['en', 'zh']);
  const en = Object.keys(I18N.en).sort();
  assert.deepEqual(Object.keys(I18N.zh).sort(), en);
  for (const key of en) assert.deepEqual(placeholders(I18N.zh[key]), placeholders(I18N.en[key]), key);
  for (const lang of LANGS) for (const key of en) assert.ok(I18N[lang][key].length > 0, `${lang} ${key} is empty`);
});

test('t looks a key up in the current language', () => {
  assert.equal(getLang(), 'en');
  assert.equal(t('nav.kbs'), 'Knowledge bases');
  setLang('zh');
  assert.equal(getLang(), 'zh');
  assert.equal(t('nav.kbs'), '知识库');
  assert.equal(t('chat.notFound'), '知识库中没有找到答案');
});

test('an unknown language is ignored and an unknown key is shown as itself', () => {
  setLang('fr');
  assert.equal(getLang(), 'en');
  assert.equal(t('no.such.key'), 'no.such.key');
  setLang('zh');
  assert.equal(t('no.such.key', { n: 1 }), 'no.such.key');
});

test('t fills {name} placeholders, and leaves a missing one as written', () => {
  assert.equal(t('kbs.created', { name: '客服知识库' }), 'Knowledge base “客服知识库” created.');
  setLang('zh');
  assert.equal(t('kbs.created', { name: '客服知识库' }), '已创建知识库“客服知识库”。');
  assert.equal(t('error.http', { status: 503 }), '服务器返回 503。');
  assert.equal(t('error.http'), '服务器返回 {status}。');
  assert.equal(t('error.http', { status: null }), '服务器返回 {status}。');
  assert.equal(t('search.count', { n: 0, query: '{n}' }), '“{n}”共 0 条结果', 'a value is not expanded again');
});

test('t picks the English singular or plural by the count, formatted numbers included', () => {
  const one = t('job.progress', { done: 1, total: 1, chunks: 1 });
  assert.equal(one, '1 of 1 file · 1 chunk');
  assert.equal(t('job.progress', { done: 0, total: 2, chunks: '1,000' }), '0 of 2 files · 1,000 chunks');
  assert.equal(t('job.progress', { done: 0, total: '1', chunks: 0 }), '0 of 1 file · 0 chunks');
  // Without the count the plural form is left as written.
  assert.equal(t('job.progress', { done: 0, chunks: 2 }), '0 of {total} {total|file|files} · 2 chunks');
  setLang('zh');
  assert.equal(t('job.progress', { done: 1, total: 3, chunks: 12 }), '1/3 个文件 · 12 个分块');
});

test('numbers, sizes and dates in the interface language', () => {
  assert.equal(fmtNumber(12345), '12,345');
  assert.equal(fmtNumber(null), '—');
  assert.equal(fmtNumber('x'), 'x');
  assert.equal(fmtBytes(0), '0 B');
  assert.equal(fmtBytes(1536), '1.5 KB');
  assert.equal(fmtBytes(20 * 1024 * 1024), '20 MB');
  assert.equal(fmtBytes(undefined), '—');
  assert.equal(fmtDate(''), '—');
  assert.equal(fmtDate('not a date'), 'not a date');
  const en = fmtDate('2026-01-02T03:04:05Z');
  assert.match(en, /2026/);
  setLang('zh');
  assert.match(fmtDate(1767323045), /2026年/, 'seconds since 1970, in Chinese');
  assert.equal(fmtDate(1767323045), fmtDate(1767323045000), 'seconds and milliseconds');
});

test('the starting language: saved, else the browser preference, else English', () => {
  assert.equal(pickLang('zh', ['en-US']), 'zh');
  assert.equal(pickLang('fr', ['fr-FR', 'zh-TW', 'en']), 'zh');
  assert.equal(pickLang(null, ['en-GB', 'zh-CN']), 'en');
  assert.equal(pickLang(null, ['de']), 'en');
  assert.equal(pickLang(null, undefined), 'en');
  // Outside a browser there is no storage and no navigator preference that says otherwise.
  assert.ok(LANGS.includes(initialLang()));
});

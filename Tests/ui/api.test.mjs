// The API client's pure parts and the routes (Sources/WendaoServer/UI/api.js, routes.js, kbs.js,
// documents.js): URLs with percent-encoded names, error messages. Run with `node --test Tests/ui/`.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { setLang } from '../../Sources/WendaoServer/UI/i18n.js';
import { ApiError, errorFromBody, errorFromResponse, kbPath, documentPath, chunkPath, jobPath } from '../../Sources/WendaoServer/UI/api.js';
import { docsRoute, parseRoute } from '../../Sources/WendaoServer/UI/routes.js';
import { adminError } from '../../Sources/WendaoServer/UI/kbs.js';
import { uploadPercents, resultFor } from '../../Sources/WendaoServer/UI/documents.js';

afterEach(() => setLang('en'));

const KB = '客服知识库';
const KB_ENCODED = '%E5%AE%A2%E6%9C%8D%E7%9F%A5%E8%AF%86%E5%BA%93';

test('API URLs percent-encode knowledge-base names and ids', () => {
  assert.equal(kbPath(KB), '/api/v1/kbs/' + KB_ENCODED);
  assert.equal(kbPath(KB) + '/ask', `/api/v1/kbs/${KB_ENCODED}/ask`);
  assert.equal(kbPath('a/b?c#d e%'), '/api/v1/kbs/a%2Fb%3Fc%23d%20e%25');
  assert.equal(documentPath(KB, 12), `/api/v1/kbs/${KB_ENCODED}/documents/12`);
  assert.equal(chunkPath(KB, 'x/y'), `/api/v1/kbs/${KB_ENCODED}/chunks/x%2Fy`);
  assert.equal(jobPath(7), '/api/v1/jobs/7');
  assert.equal(decodeURIComponent(kbPath(KB).split('/').pop()), KB);
});

test('document routes round-trip any name', () => {
  for (const name of [KB, 'logistics', 'a/b', '50% off', '#hash?q', 'Ünïcode 名 🙂']) {
    assert.deepEqual(parseRoute(docsRoute(name)), { view: 'docs', kb: name }, name);
  }
  assert.equal(docsRoute(KB), '#/docs/' + KB_ENCODED);
  // A name typed into the address bar unencoded, slashes included.
  assert.deepEqual(parseRoute('#/docs/客服/知识库'), { view: 'docs', kb: '客服/知识库' });
});

test('parseRoute: views, redirects and in-page anchors', () => {
  assert.deepEqual(parseRoute(''), { view: 'chat', kb: '' });
  assert.deepEqual(parseRoute('#/kbs'), { view: 'kbs', kb: '' });
  assert.deepEqual(parseRoute('#/search'), { view: 'search', kb: '' });
  assert.deepEqual(parseRoute('#/nowhere'), { redirect: '#/chat' });
  assert.deepEqual(parseRoute('#/docs/'), { redirect: '#/kbs' });
  assert.deepEqual(parseRoute('#/docs/%E5%AE'), { redirect: '#/kbs' }, 'a broken escape');
  assert.deepEqual(parseRoute('#main'), { anchor: true });
});

test('errorFromBody: the server\'s error code and message', () => {
  const e = errorFromBody(404, '{"error":{"code":"not_found","message":"no knowledge base named 客服知识库"}}', null);
  assert.ok(e instanceof ApiError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'ApiError');
  assert.equal(e.status, 404);
  assert.equal(e.code, 'not_found');
  assert.equal(e.message, 'no knowledge base named 客服知识库');
  assert.equal(e.retryAfter, null);
});

test('errorFromBody: a body that is not the error JSON says the status, in the interface language', () => {
  for (const body of ['', '<html>502 Bad Gateway</html>', '{"error":"flat"}', '{"error":{"code":5}}', 'null']) {
    const e = errorFromBody(502, body, null);
    assert.equal(e.message, 'The server answered 502.', body);
    assert.equal(e.code, 'http_502', body);
  }
  setLang('zh');
  assert.equal(errorFromBody(500, 'oops', null).message, '服务器返回 500。');
});

test('errorFromBody: Retry-After in seconds is added to 429 and 503 messages only', () => {
  const busy = errorFromBody(429, '{"error":{"code":"rate_limited","message":"too many requests"}}', ' 3 ');
  assert.equal(busy.message, 'too many requests (try again in 3 s)');
  assert.equal(busy.retryAfter, 3);
  assert.equal(errorFromBody(503, '', '10').message, 'The server answered 503. (try again in 10 s)');
  assert.equal(errorFromBody(400, '', '10').message, 'The server answered 400.');
  const date = errorFromBody(503, '', 'Wed, 21 Oct 2026 07:28:00 GMT');
  assert.equal(date.retryAfter, null);
  assert.equal(date.message, 'The server answered 503.');
  setLang('zh');
  assert.equal(errorFromBody(429, '', '2').message, '服务器返回 429。 （请 2 秒后重试）');
});

test('errorFromResponse reads the body and the Retry-After header of a fetch Response', async () => {
  const res = new Response('{"error":{"code":"unavailable","message":"busy"}}', { status: 503, headers: { 'Retry-After': '5' } });
  const e = await errorFromResponse(res);
  assert.deepEqual([e.status, e.code, e.message, e.retryAfter], [503, 'unavailable', 'busy (try again in 5 s)', 5]);
});

test('adminError: an admin-only route refused to another key says the admin key is needed', () => {
  const refused = new ApiError(404, 'not_found', 'no such route for this key');
  assert.equal(adminError(refused), 'Refused: this needs the admin key.');
  assert.equal(adminError(new ApiError(404, 'not_found', 'no knowledge base named x')), 'no knowledge base named x');
  assert.equal(adminError(new ApiError(409, 'already_exists', 'exists')), 'exists');
  setLang('zh');
  assert.equal(adminError(refused), '被拒绝：此操作需要管理员密钥。');
});

test('errorFromBody: the Chinese interface shows its own sentence for a stable code, never the English message', () => {
  setLang('zh');
  const e = errorFromBody(404, '{"error":{"code":"not_found","message":"no knowledge base named 客服知识库"}}', null);
  assert.equal(e.code, 'not_found');
  assert.match(e.message, /找不到/);
  assert.equal(e.detail, 'no knowledge base named 客服知识库');
  const busy = errorFromBody(429, '{"error":{"code":"rate_limited","message":"too many requests"}}', '3');
  assert.equal(busy.message, '请求过于频繁，请稍后再试。 （请 3 秒后重试）');
  // A code this page does not know: a Chinese sentence naming the code, no English.
  const odd = errorFromBody(400, '{"error":{"code":"brand_new","message":"something new"}}', null);
  assert.equal(odd.message, '请求失败（错误代码 brand_new）。');
  // adminError still recognises an admin-only route by the server's message.
  assert.equal(adminError(errorFromBody(404, '{"error":{"code":"not_found","message":"no such route for this key"}}', null)),
    '被拒绝：此操作需要管理员密钥。');
  // Every code the server sends has a Chinese sentence (APIError.swift, WendaoError.swift).
  for (const code of ['invalid_argument', 'not_found', 'already_exists', 'unreadable', 'unsupported', 'limit_exceeded',
    'corrupt', 'storage', 'unauthenticated', 'rate_limited', 'context_too_long', 'unavailable', 'bad_response', 'timeout',
    'cancelled', 'internal', 'admin_only', 'conflict', 'cross_origin', 'host_not_allowed', 'method_not_allowed', 'overloaded']) {
    const m = errorFromBody(400, JSON.stringify({ error: { code, message: 'English text' } }), null).message;
    assert.ok(!/English/.test(m) && /[\u4e00-\u9fff]/.test(m), code + ': ' + m);
  }
});

test('uploadPercents: files are sent in order, the form overhead shared out', () => {
  assert.deepEqual(uploadPercents([100, 300], 0, 400), [0, 0]);
  assert.deepEqual(uploadPercents([100, 300], 50, 400), [50, 0]);
  assert.deepEqual(uploadPercents([100, 300], 250, 400), [100, 50]);
  assert.deepEqual(uploadPercents([100, 300], 400, 400), [100, 100]);
  // 200 bytes of multipart overhead: 100 per file.
  assert.deepEqual(uploadPercents([100, 300], 200, 600), [100, 0]);
  assert.deepEqual(uploadPercents([0], 0, 0), [100], 'an empty file');
});

test('resultFor: the job result of an uploaded file, by name or by path ending in it', () => {
  const results = [{ path: 'docs/a.md', outcome: 'added' }, { path: 'b.md', outcome: 'failed' }, null, { path: 3 }];
  assert.equal(resultFor(results, 'a.md').outcome, 'added');
  assert.equal(resultFor(results, 'b.md').outcome, 'failed');
  assert.equal(resultFor(results, 'c.md'), undefined);
  assert.equal(resultFor(results, 'docs.md'), undefined);
  assert.equal(resultFor(undefined, 'a.md'), undefined);
});

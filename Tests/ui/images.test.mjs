// The image studio's data helpers (Sources/WendaoServer/UI/imagedata.js): run with `node --test Tests/ui/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSize, generationBody, valuesFromRecord, statusKey, isRunning, costText, filePath, thumbnailPath, gridPicture } from '../../Sources/WendaoServer/UI/imagedata.js';

test('sizes in DashScope, OpenAI and typographic spellings; out-of-range sides refused', () => {
  assert.equal(parseSize('1024*1024'), '1024*1024');
  assert.equal(parseSize(' 720x1280 '), '720*1280');
  assert.equal(parseSize('512×768'), '512*768');
  assert.equal(parseSize('20000*10000'), null);
  assert.equal(parseSize('32*32'), null);
  assert.equal(parseSize('huge'), null);
});

test('a generation body from the form, with errors named by key', () => {
  assert.deepEqual(generationBody({ prompt: '  ' }), { error: 'images.error.prompt' });
  assert.deepEqual(generationBody({ prompt: 'x', size: 'big' }), { error: 'images.error.size' });
  assert.deepEqual(generationBody({ prompt: 'x', n: '40' }), { error: 'images.error.n' });
  assert.deepEqual(generationBody({ prompt: 'x', seed: '1.5' }), { error: 'images.error.seed' });
  assert.deepEqual(
    generationBody({ prompt: ' 白底 保温杯 ', model: 'dashscope:wanx2.1-t2i-turbo', size: '1024x1024', n: '2', seed: '42', tags: '电商， 夏季,' }).body,
    { prompt: '白底 保温杯', model: 'dashscope:wanx2.1-t2i-turbo', size: '1024*1024', n: 2, seed: 42, tags: ['电商', '夏季'] });
});

test('run again: a record back into form values', () => {
  const v = valuesFromRecord({ prompt: 'p', negative_prompt: 'blurry', model: 'sdwebui:default', seed: 7, tags: ['a', 'b'], parameters: { size: '512*512', n: 2 } });
  assert.deepEqual(v, { prompt: 'p', negative: 'blurry', model: 'sdwebui:default', size: '512*512', n: 2, seed: '7', tags: 'a, b' });
  assert.equal(generationBody(v).body.seed, 7);
});

test('statuses, costs and file paths', () => {
  assert.equal(statusKey('timed_out'), 'images.status.timed_out');
  assert.equal(statusKey('<script>'), 'images.status.unknown');
  assert.ok(isRunning('pending') && !isRunning('succeeded'));
  assert.equal(costText({ cost: 0.28, currency: 'CNY' }), '0.28 CNY');
  assert.equal(costText({}), '');
  assert.equal(filePath(12, 0), '/api/v1/images/12/files/0');
});

test('the grid shows thumbnails, the small original when none could be made, nothing for a huge one', () => {
  assert.equal(thumbnailPath(12, 1), '/api/v1/images/12/files/1/thumbnail');
  assert.deepEqual(gridPicture(12, { index: 0, bytes: 1000 }),
    { path: '/api/v1/images/12/files/0/thumbnail', fallback: '/api/v1/images/12/files/0' });
  assert.deepEqual(gridPicture(12, { index: 0, bytes: 50 << 20 }), { path: '/api/v1/images/12/files/0/thumbnail', fallback: null });
  assert.deepEqual(gridPicture(12, { index: 0, bytes: 1000, thumbnail_skipped: 'a WebP picture' }), { path: '/api/v1/images/12/files/0', fallback: null });
  assert.equal(gridPicture(12, { index: 0, bytes: 50 << 20, thumbnail_skipped: 'too large' }), null);
  assert.equal(gridPicture(12, undefined), null);
});

// The Evaluations page's and the prompt playground's pure helpers (Sources/WendaoServer/UI/evals.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UPLOAD, runRequest, runFraction, anyRunning, metricValue, verdictKey, playgroundRequest, ratingsPath,
} from '../../Sources/WendaoServer/UI/evals.js';

test('a run of a data-directory suite', () => {
  assert.deepEqual(runRequest({ suite: 'logistics.yaml', limit: '6', concurrency: '' }),
    { ok: true, body: { suite: 'logistics.yaml', limit: 6 } });
  assert.deepEqual(runRequest({ suite: '' }), { ok: false, error: 'evals.needSuite' });
  assert.equal(runRequest({ suite: 'a.yaml', limit: '0' }).error, 'evals.badNumbers');
  assert.equal(runRequest({ suite: 'a.yaml', limit: '1.5' }).error, 'evals.badNumbers');
  assert.equal(runRequest({ suite: 'a.yaml', concurrency: '33' }).error, 'evals.badNumbers');
  assert.equal(runRequest({ suite: 'a.yaml', concurrency: '32' }).body.concurrency, 32);
});

test('an uploaded suite carries its files by name', () => {
  const r = runRequest({ suite: UPLOAD, yaml: 'kb: x\n', files: [{ name: 'set.jsonl', text: '{"question":"q"}\n' }] });
  assert.deepEqual(r, { ok: true, body: { suite_yaml: 'kb: x\n', files: { 'set.jsonl': '{"question":"q"}\n' } } });
  assert.equal(runRequest({ suite: UPLOAD, yaml: '  ' }).error, 'evals.needYaml');
  const many = Array.from({ length: 21 }, (_, i) => ({ name: 'f' + i, text: '' }));
  assert.equal(runRequest({ suite: UPLOAD, yaml: 'kb: x', files: many }).error, 'evals.tooManyFiles');
});

test('progress and polling', () => {
  assert.equal(runFraction({ done: 3, total: 12 }), 0.25);
  assert.equal(runFraction({ done: 5, total: 0 }), 0);
  assert.equal(runFraction({ done: 20, total: 10 }), 1);
  assert.equal(runFraction(null), 0);
  assert.equal(anyRunning([{ state: 'done' }, { state: 'running' }]), true);
  assert.equal(anyRunning([{ state: 'done' }, { state: 'interrupted' }]), false);
  assert.equal(anyRunning(undefined), false);
});

test('metric values and verdicts', () => {
  assert.equal(metricValue('accuracy', 0.8125), '0.813');
  assert.equal(metricValue('latency_p50_ms', 1234.6), '1,235');
  assert.equal(metricValue('cost', 0.00012), '0.0001');
  assert.equal(metricValue('f1', null), '—');
  assert.equal(metricValue('f1', NaN), '—');
  assert.equal(verdictKey('better'), 'evals.better');
  assert.equal(verdictKey('worse'), 'evals.worse');
  assert.equal(verdictKey('no_clear_difference'), 'evals.unclear');
});

test('the playground request leaves empty fields to the server', () => {
  const r = playgroundRequest({
    question: '  冷链运输温度是多少？ ',
    variants: [{ name: 'extractive', model: 'extractive', prompt: '', top_k: '' },
      { name: '', model: ' openai:gpt-4o-mini ', prompt: 'Cite [n]. Else: {{not_found}}', top_k: '5' }],
  });
  assert.deepEqual(r, { ok: true, body: { question: '冷链运输温度是多少？', variants: [
    { name: 'extractive', model: 'extractive' },
    { model: 'openai:gpt-4o-mini', prompt: 'Cite [n]. Else: {{not_found}}', top_k: 5 }] } });
  assert.equal(playgroundRequest({ question: ' ', variants: [{}] }).error, 'playground.needQuestion');
  assert.equal(playgroundRequest({ question: 'q', variants: [{ prompt: 'no placeholder' }] }).error, 'playground.needNotFound');
  assert.equal(playgroundRequest({ question: 'q', variants: [{ top_k: '51' }] }).error, 'playground.badTopK');
  assert.equal(playgroundRequest({ question: 'q', variants: [] }).error, 'playground.variantCount');
  assert.equal(playgroundRequest({ question: 'q', variants: [{}, {}, {}, {}, {}] }).error, 'playground.variantCount');
});

test('the rated answers are downloaded by knowledge base and date', () => {
  assert.equal(ratingsPath('客服 知识库', ''), '/api/v1/eval/ratings?kb=%E5%AE%A2%E6%9C%8D%20%E7%9F%A5%E8%AF%86%E5%BA%93');
  assert.equal(ratingsPath('kb', '2026-12-01'), '/api/v1/eval/ratings?kb=kb&since=2026-12-01');
});

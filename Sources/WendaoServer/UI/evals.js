// Wendao (问道) web UI: the Evaluations page (#/evals) and the prompt playground (#/playground).
// Evaluations: start a run of a suite (one of the data directory's eval/suites, or an uploaded YAML
// with its test set and prompt files), watch its progress (polled while a run is running), list the
// runs, open a run's HTML report, compare two runs (paired bootstrap intervals). The playground: one
// question, up to four prompt/model variants answering side by side as they stream, each with the
// sources it saw. The pure helpers at the top have no DOM access and are tested under `node --test`
// (Tests/ui/evals.test.mjs).

import { t, fmtNumber } from './i18n.js';
import { $, el } from './dom.js';
import { apiJSON, apiFetch, kbPath } from './api.js';
import { readEventStream, parseData } from './sse.js';
import { state } from './state.js';

/** The value of the suite picker that means "upload a suite". */
export const UPLOAD = '(upload)'; // never a suite's name: those end in .yaml

/**
 * The body of `POST /api/v1/eval/runs` for the form, checked as the server checks it: `{ok: true,
 * body}` or `{ok: false, error}` (an i18n key). `form.files` is a list of `{name, text}`.
 */
export function runRequest(form) {
  const body = {};
  if (form.suite === UPLOAD) {
    if (typeof form.yaml !== 'string' || !form.yaml.trim()) return { ok: false, error: 'evals.needYaml' };
    body.suite_yaml = form.yaml;
    const files = {};
    for (const f of form.files || []) files[f.name] = f.text;
    if (Object.keys(files).length > 20) return { ok: false, error: 'evals.tooManyFiles' };
    body.files = files;
  } else {
    if (!form.suite) return { ok: false, error: 'evals.needSuite' };
    body.suite = form.suite;
  }
  for (const [key, field, max] of [['limit', 'limit', Infinity], ['concurrency', 'concurrency', 32]]) {
    const raw = form[field];
    if (raw === undefined || raw === null || String(raw).trim() === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) return { ok: false, error: 'evals.badNumbers' };
    body[key] = n;
  }
  return { ok: true, body };
}

/** A run's progress as a fraction 0…1 (0 when nothing is known). */
export function runFraction(run) {
  const total = Number(run && run.total) || 0;
  const done = Number(run && run.done) || 0;
  return total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
}

/** Whether any run of the list is still running (the page then polls). */
export function anyRunning(runs) {
  return (runs || []).some((r) => r && r.state === 'running');
}

/** A metric's value as the tables show it: ratios with three decimals, others rounded. */
export function metricValue(metric, v) {
  if (typeof v !== 'number' || !isFinite(v)) return '—';
  if (/_ms$|tokens$/.test(metric)) return fmtNumber(Math.round(v));
  if (metric === 'cost') return v.toFixed(4);
  return v.toFixed(3);
}

/** The i18n key of a comparison verdict. */
export function verdictKey(verdict) {
  return { better: 'evals.better', worse: 'evals.worse' }[verdict] || 'evals.unclear';
}

/**
 * The body of `POST /api/v1/kbs/{kb}/playground` for the form: `{ok, body}` or `{ok: false, error}`.
 * Each variant is `{name, model, prompt, top_k}`; empty fields are left out (the server's defaults).
 */
export function playgroundRequest(form) {
  const question = typeof form.question === 'string' ? form.question.trim() : '';
  if (!question) return { ok: false, error: 'playground.needQuestion' };
  const variants = [];
  for (const v of form.variants || []) {
    const out = {};
    if (v.name && v.name.trim()) out.name = v.name.trim();
    if (v.model && v.model.trim()) out.model = v.model.trim();
    if (v.prompt && v.prompt.trim()) {
      if (!v.prompt.includes('{{not_found}}')) return { ok: false, error: 'playground.needNotFound' };
      out.prompt = v.prompt;
    }
    if (v.top_k !== undefined && String(v.top_k).trim() !== '') {
      const k = Number(v.top_k);
      if (!Number.isInteger(k) || k < 1 || k > 50) return { ok: false, error: 'playground.badTopK' };
      out.top_k = k;
    }
    variants.push(out);
  }
  if (variants.length < 1 || variants.length > 4) return { ok: false, error: 'playground.variantCount' };
  return { ok: true, body: { question, variants } };
}

// ----- Evaluations page -----

let suitesLoaded = false;
let runs = [];
let pollTimer = null;
const selected = new Set();

function runPath(id) { return '/api/v1/eval/runs/' + encodeURIComponent(id); }

/** Loads the suites (once) and the runs; polls while one is running and the page is shown. */
export async function loadEvals() {
  if (!suitesLoaded) await loadSuites();
  await refreshRuns();
}

async function loadSuites() {
  const select = $('evals-suite');
  const status = $('evals-status');
  try {
    const body = await apiJSON('/api/v1/eval/suites');
    const suites = Array.isArray(body && body.suites) ? body.suites : [];
    const options = suites.map((s) => el('option', { value: s.file, disabled: s.error ? true : null },
      s.error ? s.file + ' — ' + s.error : s.file + ' · ' + (s.name || '') + ' · ' + (s.kb || '') + ' · ' + t('evals.variantCount', { n: (s.variants || []).length })));
    options.push(el('option', { value: UPLOAD }, t('evals.uploadOption')));
    select.replaceChildren(...options);
    const first = suites.find((s) => !s.error);
    select.value = first ? first.file : UPLOAD;
    suitesLoaded = true;
    showUploadFields();
  } catch (e) {
    status.className = 'error-box';
    status.textContent = e.message;
  }
}

function showUploadFields() {
  $('evals-upload-fields').hidden = $('evals-suite').value !== UPLOAD;
}

async function refreshRuns() {
  try {
    const body = await apiJSON('/api/v1/eval/runs');
    runs = Array.isArray(body && body.runs) ? body.runs : [];
    for (const id of [...selected]) if (!runs.some((r) => r.id === id)) selected.delete(id);
    renderRuns();
  } catch (e) {
    const status = $('evals-status');
    status.className = 'error-box';
    status.textContent = e.message;
  }
  schedulePoll();
}

function schedulePoll() {
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
  if (state.view === 'evals' && anyRunning(runs)) pollTimer = setTimeout(refreshRuns, 1000);
}

/** Re-renders the runs table (also after a language change). */
export function renderRuns() {
  const body = $('evals-runs');
  if (!body) return;
  if (!runs.length) {
    body.replaceChildren(el('tr', null, el('td', { colspan: '7', class: 'hint' }, t('evals.noRuns'))));
  } else {
    body.replaceChildren(...runs.map(runRow));
  }
  $('evals-compare').disabled = selected.size !== 2;
}

function runRow(r) {
  const box = el('input', {
    type: 'checkbox', 'aria-label': t('evals.selectRun', { suite: r.suite }), checked: selected.has(r.id) ? true : null,
    disabled: r.state !== 'done' ? true : null,
    onchange: (ev) => {
      if (ev.target.checked) selected.add(r.id); else selected.delete(r.id);
      $('evals-compare').disabled = selected.size !== 2;
    },
  });
  const pct = Math.round(runFraction(r) * 100);
  const progress = el('div', { class: 'eval-progress' },
    el('progress', { max: '100', value: String(pct), 'aria-label': t('evals.colProgress') }),
    el('span', null, t('evals.progress', { done: fmtNumber(r.done || 0), total: fmtNumber(r.total || 0) })
      + (r.failed ? ' · ' + t('evals.failedCells', { n: r.failed }) : '')));
  const actions = el('td', { class: 'actions' });
  if (r.state === 'done') {
    actions.append(el('a', {
      class: 'button ghost small', href: runPath(r.id) + '/report.html', target: '_blank', rel: 'noopener',
      'data-testid': 'eval-report-link',
    }, t('evals.report')));
  }
  if (r.state === 'running') {
    actions.append(el('button', {
      type: 'button', class: 'ghost small', onclick: () => cancelRun(r.id),
    }, t('evals.cancel')));
  }
  const notes = [];
  if (r.error) notes.push(el('div', { class: 'error-text' }, r.error));
  if (r.stopped) notes.push(el('div', { class: 'hint' }, r.stopped));
  if (Array.isArray(r.regressions) && r.regressions.length) {
    notes.push(el('div', { class: 'error-text' }, t('evals.regressions', { n: r.regressions.length })));
  }
  const summary = Array.isArray(r.summary) ? r.summary : [];
  const variants = el('td', { class: 'small' }, summary.length
    ? el('ul', { class: 'plain' }, ...summary.map((v) => el('li', null,
      v.name + ': ' + t('evals.accuracy') + ' ' + metricValue('accuracy', v.metrics && v.metrics.accuracy))))
    : (r.variants || []).join(', '));
  return el('tr', { 'data-run': r.id, class: 'eval-run state-' + r.state },
    el('td', null, box),
    el('td', null, el('div', null, r.suite), el('div', { class: 'hint small' }, r.kb + ' · ' + r.id)),
    el('td', { 'data-testid': 'eval-state' }, t('evals.state.' + r.state), ...notes),
    el('td', null, progress),
    el('td', { class: 'small' }, r.created_at ? new Date(r.created_at).toLocaleString() : ''),
    variants,
    actions);
}

async function cancelRun(id) {
  try {
    await apiJSON(runPath(id) + '/cancel', { method: 'POST' });
  } catch (e) {
    $('evals-status').className = 'error-box';
    $('evals-status').textContent = e.message;
  }
  await refreshRuns();
}

async function startRun(ev) {
  ev.preventDefault();
  const status = $('evals-status');
  const suite = $('evals-suite').value;
  const form = { suite, limit: $('evals-limit').value, concurrency: $('evals-concurrency').value };
  if (suite === UPLOAD) {
    const yaml = $('evals-yaml').files[0];
    form.yaml = yaml ? await yaml.text() : '';
    form.files = [];
    for (const f of $('evals-files').files) form.files.push({ name: f.name, text: await f.text() });
  }
  const request = runRequest(form);
  if (!request.ok) {
    status.className = 'error-box';
    status.textContent = t(request.error);
    return;
  }
  $('evals-start').disabled = true;
  try {
    const run = await apiJSON('/api/v1/eval/runs', { method: 'POST', json: request.body });
    status.className = 'hint';
    status.textContent = t('evals.started', { suite: run.suite, n: fmtNumber(run.total) });
  } catch (e) {
    status.className = 'error-box';
    status.textContent = e.message;
  } finally {
    $('evals-start').disabled = false;
  }
  await refreshRuns();
}

async function compareSelected() {
  const out = $('evals-comparison');
  const ids = runs.filter((r) => selected.has(r.id)).map((r) => r.id).reverse(); // older first
  if (ids.length !== 2) return;
  try {
    const c = await apiJSON('/api/v1/eval/compare?a=' + encodeURIComponent(ids[0]) + '&b=' + encodeURIComponent(ids[1]));
    const rows = (c.rows || []).map((row) => el('tr', { class: 'verdict-' + row.verdict },
      el('td', null, row.variant), el('td', null, row.metric),
      el('td', { class: 'num' }, metricValue(row.metric, row.first)),
      el('td', { class: 'num' }, metricValue(row.metric, row.second)),
      el('td', { class: 'num' }, (row.difference >= 0 ? '+' : '') + row.difference.toFixed(3)),
      el('td', { class: 'num' }, '[' + row.ci_low.toFixed(3) + ', ' + row.ci_high.toFixed(3) + ']'),
      el('td', { 'data-testid': 'eval-verdict' }, t(verdictKey(row.verdict)))));
    out.replaceChildren(
      el('h2', null, t('evals.comparisonTitle', { a: c.first.suite + ' ' + c.first.id, b: c.second.suite + ' ' + c.second.id })),
      el('p', { class: 'hint' }, t('evals.comparisonHint')),
      el('div', { class: 'table-wrap' }, el('table', { class: 'data-table' },
        el('thead', null, el('tr', null, ...['evals.colVariant', 'evals.colMetric', 'evals.colFirst', 'evals.colSecond',
          'evals.colDifference', 'evals.colInterval', 'evals.colVerdict'].map((k) => el('th', { scope: 'col' }, t(k))))),
        el('tbody', null, ...rows))),
      (c.unmatched || []).length ? el('p', { class: 'hint' }, t('evals.unmatched', { names: c.unmatched.join(', ') })) : null);
    out.hidden = false;
  } catch (e) {
    out.hidden = false;
    out.replaceChildren(el('p', { class: 'error-box' }, e.message));
  }
}

// ----- Playground -----

const DEFAULT_PROMPT = 'Answer only from the sources, citing them as [n]. If they do not answer, reply exactly: {{not_found}}';

function variantCard(index, preset) {
  const p = preset || {};
  const id = (s) => 'pg-' + s + '-' + index;
  return el('fieldset', { class: 'card playground-variant', 'data-variant': String(index) },
    el('legend', null, t('playground.variant', { n: index + 1 })),
    el('label', { for: id('name') }, t('playground.name')),
    el('input', { id: id('name'), class: 'pg-name', type: 'text', autocomplete: 'off', value: p.name || '' }),
    el('label', { for: id('model') }, t('playground.model')),
    el('input', { id: id('model'), class: 'pg-model', 'data-testid': 'pg-model', type: 'text', autocomplete: 'off', value: p.model || '', placeholder: 'openai:gpt-4o-mini · extractive' }),
    el('label', { for: id('prompt') }, t('playground.prompt')),
    el('textarea', { id: id('prompt'), class: 'pg-prompt', rows: '4' }, p.prompt || ''),
    el('label', { for: id('topk') }, t('playground.topK')),
    el('input', { id: id('topk'), class: 'pg-topk', type: 'number', min: '1', max: '50', step: '1', value: p.top_k || '' }));
}

function addVariant(preset) {
  const box = $('playground-variants');
  const n = box.children.length;
  if (n >= 4) return;
  box.append(variantCard(n, preset));
  $('playground-add').disabled = box.children.length >= 4;
}

let playgroundAbort = null;

async function runPlayground(ev) {
  ev.preventDefault();
  const status = $('playground-status');
  const cards = [...document.querySelectorAll('#playground-variants .playground-variant')];
  const request = playgroundRequest({
    question: $('playground-question').value,
    variants: cards.map((c) => ({
      name: c.querySelector('.pg-name').value, model: c.querySelector('.pg-model').value,
      prompt: c.querySelector('.pg-prompt').value, top_k: c.querySelector('.pg-topk').value,
    })),
  });
  if (!request.ok) {
    status.className = 'error-box';
    status.textContent = t(request.error);
    return;
  }
  const kb = $('playground-kb').value;
  if (!kb) return;
  if (playgroundAbort) playgroundAbort.abort();
  const abort = new AbortController();
  playgroundAbort = abort;
  const columns = request.body.variants.map((v, i) => {
    const answer = el('div', { class: 'pg-answer', 'data-testid': 'pg-answer' });
    const sources = el('ol', { class: 'pg-sources small' });
    const stats = el('p', { class: 'hint small pg-stats', 'data-testid': 'pg-stats' }, t('playground.waiting'));
    const col = el('section', { class: 'card playground-column', 'data-variant': String(i) },
      el('h2', null, v.name || v.model || t('playground.variant', { n: i + 1 })), answer, stats,
      el('h3', null, t('playground.sources')), sources);
    return { col, answer, sources, stats };
  });
  $('playground-results').replaceChildren(...columns.map((c) => c.col));
  status.className = 'hint';
  status.textContent = t('playground.running');
  $('playground-run').disabled = true;
  try {
    const res = await apiFetch(kbPath(kb) + '/playground', {
      method: 'POST', json: request.body, headers: { Accept: 'text/event-stream' }, signal: abort.signal,
    });
    await readEventStream(res, (e) => {
      const data = parseData(e);
      if (!data) return;
      const c = typeof data.variant === 'number' ? columns[data.variant] : null;
      if (e.event === 'sources' && c) {
        c.sources.replaceChildren(...(data.sources || []).map((s) => el('li', null,
          el('b', null, '[' + s.n + '] ' + (s.document || '')), s.section ? ' · ' + s.section : '',
          el('div', { class: 'hint' }, String(s.text || '').slice(0, 300)))));
      } else if (e.event === 'token' && c) {
        c.answer.append(document.createTextNode(data.text || ''));
      } else if (e.event === 'done' && c) {
        c.answer.textContent = data.answer || '';
        c.col.classList.add('done');
        c.stats.textContent = t('playground.stats', {
          model: data.model || '', ms: fmtNumber(Math.round(data.latency_ms || 0)),
          tokens: fmtNumber((data.prompt_tokens || 0) + (data.completion_tokens || 0)),
        }) + (data.found ? '' : ' · ' + t('playground.notFound'));
      } else if (e.event === 'variant_error' && c) {
        c.col.classList.add('done', 'failed');
        c.stats.className = 'error-box';
        c.stats.textContent = (data.error && data.error.message) || t('playground.failed');
      } else if (e.event === 'error') {
        status.className = 'error-box';
        status.textContent = (data.error && data.error.message) || t('playground.failed');
      }
    });
    if (status.className === 'hint') status.textContent = '';
  } catch (e) {
    if (e && e.name === 'AbortError') return;
    status.className = 'error-box';
    status.textContent = e.message;
  } finally {
    if (playgroundAbort === abort) {
      playgroundAbort = null;
      $('playground-run').disabled = false;
    }
  }
}

/** The path that downloads knowledge base `kb`'s rated answers as a test set (since `since`, a date). */
export function ratingsPath(kb, since) {
  let path = '/api/v1/eval/ratings?kb=' + encodeURIComponent(kb);
  if (since) path += '&since=' + encodeURIComponent(since);
  return path;
}

async function downloadRatings(ev) {
  ev.preventDefault();
  const kb = $('evals-ratings-kb').value;
  if (!kb) return;
  const status = $('evals-status');
  try {
    const res = await apiFetch(ratingsPath(kb, $('evals-ratings-since').value), { headers: { Accept: 'application/x-ndjson' } });
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: 'rated-' + kb + '.jsonl', hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    status.className = 'error-box';
    status.textContent = e.message;
  }
}

/** Wires the two pages' forms (once, at start). */
export function setupEvals() {
  $('evals-form').addEventListener('submit', startRun);
  $('evals-suite').addEventListener('change', showUploadFields);
  $('evals-compare').addEventListener('click', compareSelected);
  $('evals-ratings').addEventListener('submit', downloadRatings);
  $('playground-form').addEventListener('submit', runPlayground);
  $('playground-add').addEventListener('click', () => addVariant());
  addVariant({ name: 'extractive', model: 'extractive' });
  addVariant({ name: 'strict', prompt: DEFAULT_PROMPT });
}

// Wendao (问道) web UI: the Fine-tuning data page (#/tune). Lists the datasets of the fine-tuning data
// studio (`wendao tune dataset create`), pages through a dataset's examples filtered by split, style,
// status, review and text, shows the selected example with the chunk it was written from beside it and its
// review history, and reviews it: approve, reject or edit, each a new version in the dataset's
// reviews.jsonl (the server runs the same code as `wendao tune dataset review`). Keyboard: j / k next /
// previous, a approve, r reject, e edit (Ctrl+Enter saves, Esc cancels). The pure helpers at the top have no
// DOM access and are tested under `node --test` (Tests/ui/tune.test.mjs).

import { t, fmtNumber } from './i18n.js';
import { $, el } from './dom.js';
import { apiJSON } from './api.js';
import { state } from './state.js';

/** Examples per page. */
export const PAGE = 50;

/** The filters of the page, in the order of their fields. */
export const FILTERS = ['split', 'style', 'status', 'review', 'q'];

/** The path of dataset `name`. */
export function datasetPath(name) { return '/api/v1/tune/datasets/' + encodeURIComponent(name); }

/** The path of example `id` of dataset `name`. */
export function examplePath(name, id) { return datasetPath(name) + '/examples/' + encodeURIComponent(id); }

/** The query of `GET …/examples` for `filters` (empty ones left out) from `offset`. */
export function examplesQuery(filters, offset, limit) {
  const params = new URLSearchParams();
  for (const key of FILTERS) {
    const v = filters && typeof filters[key] === 'string' ? filters[key].trim() : '';
    if (v) params.set(key, v);
  }
  if (offset > 0) params.set('offset', String(offset));
  params.set('limit', String(limit || PAGE));
  return '?' + params.toString();
}

/**
 * What a key press does on the page: 'next', 'prev', 'approve', 'reject', 'edit', or null. `ev` is
 * `{key, ctrlKey, metaKey, altKey, target}`; keys typed into a field, and keys with a modifier, do nothing.
 */
export function keyAction(ev) {
  if (!ev || ev.ctrlKey || ev.metaKey || ev.altKey) return null;
  const tag = ev.target && ev.target.tagName ? String(ev.target.tagName).toUpperCase() : '';
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (ev.target && ev.target.isContentEditable)) return null;
  return { j: 'next', ArrowDown: 'next', k: 'prev', ArrowUp: 'prev', a: 'approve', r: 'reject', e: 'edit' }[ev.key] || null;
}

/**
 * Where a move of `delta` from `index` lands on a page of `count` examples: `{index}` on this page, or
 * `{page: +1 | -1}` when it leaves it and there is such a page (`offset`, `total` of the list), or `{}`.
 */
export function move(index, delta, count, offset, total) {
  const next = index + delta;
  if (next >= 0 && next < count) return { index: next };
  if (next >= count && offset + count < total) return { page: 1 };
  if (next < 0 && offset > 0) return { page: -1 };
  return {};
}

/** The i18n key of an example's state: reviewed ones by their review, others by kept/dropped. */
export function stateKey(example) {
  if (example && example.review) return 'tune.review.' + example.review;
  return example && example.status === 'dropped' ? 'tune.status.dropped' : 'tune.status.kept';
}

// ----- Page state -----

const page = { datasets: [], dataset: '', offset: 0, total: 0, examples: [], index: -1, detail: null, editing: false, busy: false };

function setStatus(text, error) {
  const s = $('tune-status');
  s.className = error ? 'error-box' : 'hint';
  s.textContent = text || '';
}

function filters() {
  const out = {};
  for (const key of FILTERS) out[key] = $('tune-filter-' + key).value;
  return out;
}

/** Loads the datasets (when the page is shown). */
export async function loadTune() {
  try {
    const r = await apiJSON('/api/v1/tune/datasets');
    page.datasets = r.datasets || [];
  } catch (e) {
    setStatus(e.message, true);
    return;
  }
  const select = $('tune-dataset');
  const keep = page.dataset || select.value;
  select.replaceChildren(...page.datasets.map((d) => el('option', { value: d.name }, datasetLabel(d))));
  if (!page.datasets.length) {
    page.dataset = '';
    page.examples = [];
    setStatus(t('tune.noDatasets'));
    renderList();
    renderDetail();
    return;
  }
  page.dataset = page.datasets.some((d) => d.name === keep) ? keep : page.datasets[0].name;
  select.value = page.dataset;
  await loadExamples(0, 0);
}

/** Fetches the datasets' counts again and relabels the picker (after a review). */
async function refreshCounts() {
  try {
    const r = await apiJSON('/api/v1/tune/datasets');
    page.datasets = r.datasets || [];
    renderLabels();
  } catch (e) { /* the counts stay as they were; the review itself was recorded */ }
}

function datasetLabel(d) {
  const counts = typeof d.examples === 'number'
    ? t('tune.datasetCounts', { kept: fmtNumber(d.kept || 0), total: fmtNumber(d.examples), reviewed: fmtNumber(d.reviewed || 0) })
    : t('tune.notCleaned');
  return d.name + ' · ' + d.kb + ' · ' + counts;
}

async function loadExamples(offset, index) {
  if (!page.dataset) return;
  try {
    const r = await apiJSON(datasetPath(page.dataset) + '/examples' + examplesQuery(filters(), offset, PAGE));
    page.offset = r.offset || 0;
    page.total = r.total || 0;
    page.examples = r.examples || [];
    setStatus(page.total ? '' : t('tune.noExamples'));
  } catch (e) {
    page.examples = [];
    page.total = 0;
    setStatus(e.message, true);
  }
  page.editing = false;
  renderList();
  await select(page.examples.length ? Math.min(Math.max(index, 0), page.examples.length - 1) : -1);
}

/** Re-renders the page (also after a language change). */
export function renderTune() {
  if (!$('tune-list')) return;
  renderLabels();
  renderList();
  renderDetail();
}

function renderLabels() {
  for (const option of $('tune-dataset').options) {
    const d = page.datasets.find((x) => x.name === option.value);
    if (d) option.textContent = datasetLabel(d);
  }
}

function renderList() {
  const list = $('tune-list');
  list.replaceChildren(...page.examples.map((e, i) => el('li', {
    class: 'tune-item' + (i === page.index ? ' selected' : '') + ' state-' + (e.review || e.status || 'new'),
    'data-id': e.id, 'aria-current': i === page.index ? 'true' : null,
    onclick: () => select(i),
  },
  el('div', { class: 'tune-item-q' }, e.question),
  el('div', { class: 'hint small' }, e.id + ' · ' + t('tune.style.' + e.style) + ' · ' + (e.split || '—') + ' · ' + t(stateKey(e))))));
  const last = page.offset + page.examples.length;
  $('tune-page').textContent = page.total
    ? t('tune.page', { from: fmtNumber(page.offset + 1), to: fmtNumber(last), total: fmtNumber(page.total) })
    : '';
  $('tune-prev-page').disabled = page.offset <= 0;
  $('tune-next-page').disabled = last >= page.total;
}

async function select(i) {
  page.index = i;
  page.editing = false;
  page.detail = null;
  renderList();
  const e = page.examples[i];
  if (!e) { renderDetail(); return; }
  const selected = $('tune-list').children[i];
  if (selected && selected.scrollIntoView) selected.scrollIntoView({ block: 'nearest' });
  try {
    page.detail = await apiJSON(examplePath(page.dataset, e.id));
  } catch (err) {
    setStatus(err.message, true);
  }
  if (page.examples[page.index] === e) renderDetail();
}

function renderDetail() {
  const box = $('tune-detail');
  const d = page.detail;
  if (!d) {
    box.replaceChildren(el('p', { class: 'hint' }, page.examples.length ? t('tune.loading') : t('tune.pick')));
    return;
  }
  const e = d.example;
  const meta = el('p', { class: 'hint small', 'data-testid': 'tune-meta' },
    [e.id, t('tune.style.' + e.style), e.split || '—', t(stateKey(e)) + (e.drop_reason ? ' (' + e.drop_reason + ')' : ''),
      t('tune.version', { n: e.version || 0 })].join(' · '));
  let body;
  if (page.editing) {
    body = el('form', { id: 'tune-edit', class: 'tune-edit', novalidate: true, onsubmit: (ev) => { ev.preventDefault(); saveEdit(); } },
      el('label', { for: 'tune-edit-question' }, t('tune.question')),
      el('textarea', { id: 'tune-edit-question', 'data-testid': 'tune-edit-question', rows: '3', maxlength: '20000', onkeydown: editKeys }, e.question),
      el('label', { for: 'tune-edit-answer' }, t('tune.answer')),
      el('textarea', { id: 'tune-edit-answer', 'data-testid': 'tune-edit-answer', rows: '6', maxlength: '20000', onkeydown: editKeys }, e.answer),
      el('label', { for: 'tune-edit-note' }, t('tune.note')),
      el('input', { id: 'tune-edit-note', type: 'text', maxlength: '2000', autocomplete: 'off', onkeydown: editKeys }),
      el('div', { class: 'row' },
        el('button', { type: 'submit', class: 'primary', 'data-testid': 'tune-save' }, t('tune.save')),
        el('button', { type: 'button', class: 'ghost', onclick: cancelEdit }, t('common.cancel'))));
  } else {
    body = el('div', null,
      el('h3', null, t('tune.question')),
      el('p', { class: 'tune-text', 'data-testid': 'tune-question' }, e.question),
      el('h3', null, t('tune.answer')),
      el('p', { class: 'tune-text', 'data-testid': 'tune-answer' }, e.answer),
      e.reasoning ? el('details', null, el('summary', null, t('tune.reasoning')), el('p', { class: 'tune-text' }, e.reasoning)) : null,
      el('div', { class: 'row' },
        el('button', { type: 'button', class: 'primary', 'data-testid': 'tune-approve', onclick: () => decide('approve') }, t('tune.approve')),
        el('button', { type: 'button', class: 'ghost', 'data-testid': 'tune-reject', onclick: () => decide('reject') }, t('tune.reject')),
        el('button', { type: 'button', class: 'ghost', 'data-testid': 'tune-edit-button', onclick: startEdit }, t('tune.edit'))));
  }
  const history = (d.reviews || []).slice().reverse().map((r) => el('li', { 'data-version': String(r.version) },
    t('tune.version', { n: r.version }) + ' · ' + t('tune.review.' + r.decision) + ' · ' + new Date(r.at).toLocaleString()
      + (r.note ? ' — ' + r.note : '')));
  const example = el('article', { class: 'card tune-example', 'data-testid': 'tune-example', 'data-id': e.id },
    el('h2', null, t('tune.example')), meta, body,
    el('h3', null, t('tune.history')),
    history.length ? el('ul', { class: 'tune-history', 'data-testid': 'tune-history' }, ...history)
      : el('p', { class: 'hint small', 'data-testid': 'tune-history' }, t('tune.noReviews')));
  const sources = (d.chunks || []).map((c) => el('section', { class: 'tune-chunk' },
    el('p', { class: 'hint small' }, c.document + (c.section ? ' › ' + c.section : '')),
    el('p', { class: 'tune-text' }, c.text)));
  const source = el('aside', { class: 'card tune-source', 'data-testid': 'tune-source' },
    el('h2', null, t('tune.source')),
    ...(sources.length ? sources : [el('p', { class: 'hint' }, t('tune.noSource'))]));
  box.replaceChildren(example, source);
  if (page.editing) $('tune-edit-question').focus();
}

function editKeys(ev) {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); saveEdit(); }
  if (ev.key === 'Escape') { ev.preventDefault(); cancelEdit(); }
}

function startEdit() {
  if (!page.detail || page.busy) return;
  page.editing = true;
  renderDetail();
}

function cancelEdit() {
  page.editing = false;
  renderDetail();
  $('tune-list').focus();
}

async function saveEdit() {
  const body = { decision: 'edit', question: $('tune-edit-question').value, answer: $('tune-edit-answer').value };
  const note = $('tune-edit-note').value.trim();
  if (note) body.note = note;
  if (await submit(body)) {
    page.editing = false;
    renderDetail();
    $('tune-list').focus();
  }
}

async function decide(decision) {
  if (await submit({ decision }) && page.index + 1 < page.examples.length) await select(page.index + 1);
}

/** Sends a review of the selected example; true once it is recorded. */
async function submit(body) {
  const e = page.examples[page.index];
  if (!e || page.busy) return false;
  page.busy = true;
  try {
    const r = await apiJSON(examplePath(page.dataset, e.id) + '/review', { method: 'POST', json: body });
    page.examples[page.index] = r.example;
    if (page.detail && page.detail.example.id === e.id) {
      page.detail.example = r.example;
      if (r.review) page.detail.reviews = (page.detail.reviews || []).concat([r.review]);
    }
    setStatus(t('tune.reviewed', { id: e.id, decision: t(stateKey(r.example)), n: r.example.version }));
    renderList();
    if (!page.editing) renderDetail();
    refreshCounts();
    return true;
  } catch (err) {
    setStatus(err.message, true);
    return false;
  } finally {
    page.busy = false;
  }
}

async function go(delta) {
  const m = move(page.index, delta, page.examples.length, page.offset, page.total);
  if (m.index !== undefined) await select(m.index);
  else if (m.page === 1) await loadExamples(page.offset + PAGE, 0);
  else if (m.page === -1) await loadExamples(Math.max(0, page.offset - PAGE), PAGE - 1);
}

function onKey(ev) {
  if (state.view !== 'tune' || page.editing || document.querySelector('dialog[open]')) return;
  const action = keyAction(ev);
  if (!action) return;
  ev.preventDefault();
  if (action === 'next') go(1);
  else if (action === 'prev') go(-1);
  else if (action === 'approve') decide('approve');
  else if (action === 'reject') decide('reject');
  else if (action === 'edit') startEdit();
}

/** Wires the page's controls and its keys. */
export function setupTune() {
  $('tune-dataset').addEventListener('change', () => { page.dataset = $('tune-dataset').value; loadExamples(0, 0); });
  for (const key of FILTERS) {
    const field = $('tune-filter-' + key);
    field.addEventListener('change', () => loadExamples(0, 0));
  }
  $('tune-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadExamples(0, 0); });
  $('tune-prev-page').addEventListener('click', () => loadExamples(Math.max(0, page.offset - PAGE), 0));
  $('tune-next-page').addEventListener('click', () => loadExamples(page.offset + PAGE, 0));
  document.addEventListener('keydown', onKey);
}

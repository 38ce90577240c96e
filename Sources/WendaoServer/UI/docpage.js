// Wendao (问道) web UI: one document's page (its extracted text and its chunks, which an editor can
// edit, disable, enable or delete), the curated answers of a knowledge base (listed on its
// documents page) and the dialog that writes one — from "Correct" under an answer, "Add Q&A", or
// "Edit" in the list.

import { t, fmtNumber, fmtDate } from './i18n.js';
import { $, el, toast, showError, confirmAction } from './dom.js';
import { apiJSON, kbPath, documentPath, chunkPath } from './api.js';
import { chunkCache } from './citations.js';
import { docsRoute } from './routes.js';
import { state } from './state.js';
import { chunkBadges, chunkTextProblem, correctionDraft, curatedPatch, preview, MAX_QUESTION_CHARS } from './editing.js';

const page = { kb: '', id: '', detail: null, editing: null, token: 0 };

// ----- The document page -----

export async function showDocument(kb, id) {
  const token = ++page.token;
  page.kb = kb;
  page.id = id;
  page.editing = null;
  $('doc-back').textContent = t('doc.back', { kb });
  $('doc-back').href = docsRoute(kb);
  $('doc-title').textContent = t('doc.title');
  showError($('doc-error'), '');
  $('doc-status').textContent = t('doc.loading');
  try {
    const detail = await apiJSON(documentPath(kb, id) + '?limit=5000');
    if (token !== page.token) return;
    page.detail = detail;
    $('doc-status').textContent = '';
  } catch (e) {
    if (token !== page.token) return;
    page.detail = null;
    $('doc-status').textContent = '';
    showError($('doc-error'), e.message);
  }
  renderDocument();
}

export function renderDocument() {
  const d = page.detail;
  $('doc-back').textContent = t('doc.back', { kb: page.kb });
  const chunksBox = $('doc-chunks');
  if (!d || !d.document) {
    $('doc-meta').textContent = '';
    $('doc-text').textContent = '';
    $('doc-text-box').hidden = true;
    chunksBox.replaceChildren();
    return;
  }
  const doc = d.document;
  $('doc-title').textContent = doc.path || t('doc.title');
  document.title = (doc.path || t('doc.title')) + ' · ' + t('app.title');
  $('doc-meta').textContent = t('doc.meta', { format: doc.format || '', chunks: fmtNumber(d.chunk_total || 0), date: fmtDate(doc.ingested_at) });
  $('doc-text-box').hidden = false;
  $('doc-text-summary').textContent = d.text_source === 'chunks' ? t('doc.textFromChunks') : t('doc.text');
  $('doc-text').textContent = typeof d.text === 'string' ? d.text : '';
  const chunks = Array.isArray(d.chunks) ? d.chunks : [];
  $('doc-more').hidden = chunks.length >= (d.chunk_total || 0);
  $('doc-more').textContent = t('doc.more', { shown: fmtNumber(chunks.length), total: fmtNumber(d.chunk_total || 0) });
  chunksBox.replaceChildren(...chunks.map((c, i) => renderChunk(c, i + 1)));
}

function renderChunk(c, n) {
  const head = el('div', { class: 'chunk-head' }, el('strong', null, t('doc.chunk', { n })));
  if (c.section) head.append(el('span', { class: 'chunk-section' }, c.section));
  if (c.page !== null && c.page !== undefined) head.append(el('span', { class: 'muted' }, t('doc.page', { page: c.page })));
  for (const key of chunkBadges(c)) head.append(el('span', { class: 'badge ' + key.replace('.', '-') }, t(key)));
  const card = el('article', { class: 'chunk card' + (c.enabled === false ? ' chunk-disabled' : ''), dataset: { chunkId: String(c.id) }, 'data-testid': 'chunk' });
  const error = el('p', { class: 'error-text', hidden: true, role: 'alert' });
  if (page.editing === c.id) {
    const area = el('textarea', { class: 'chunk-editor', 'data-testid': 'chunk-editor', rows: '6', 'aria-label': t('doc.chunkText', { n }) });
    area.value = c.text || '';
    const save = el('button', { type: 'button', class: 'primary small', 'data-testid': 'chunk-save' }, t('doc.save'));
    const cancel = el('button', { type: 'button', class: 'secondary small' }, t('common.cancel'));
    save.addEventListener('click', () => saveChunk(c, area.value, save, error));
    cancel.addEventListener('click', () => { page.editing = null; renderDocument(); });
    card.append(head, area, error, el('div', { class: 'chunk-actions' }, cancel, save));
    setTimeout(() => area.focus(), 0);
    return card;
  }
  const edit = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'chunk-edit' }, t('doc.edit'));
  edit.addEventListener('click', () => { page.editing = c.id; renderDocument(); });
  const toggle = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'chunk-toggle' }, c.enabled === false ? t('doc.enable') : t('doc.disable'));
  toggle.addEventListener('click', () => patchChunk(c, { enabled: c.enabled === false }, toggle, error,
    c.enabled === false ? 'doc.enabledToast' : 'doc.disabledToast'));
  const del = el('button', { type: 'button', class: 'danger-ghost small', 'data-testid': 'chunk-delete' }, t('common.delete'));
  del.addEventListener('click', () => deleteChunk(c, n, error));
  card.append(head, el('p', { class: 'chunk-text' }, c.text || ''), error, el('div', { class: 'chunk-actions' }, edit, toggle, del));
  return card;
}

async function saveChunk(c, text, button, error) {
  const problem = chunkTextProblem(text);
  if (problem) { showError(error, t(problem)); return; }
  await patchChunk(c, { text }, button, error, 'doc.saved');
}

async function patchChunk(c, body, button, error, doneKey) {
  button.disabled = true;
  try {
    await apiJSON(chunkPath(page.kb, c.id), { method: 'PATCH', json: body });
    page.editing = null;
    chunkCache.clear();
    toast(t(doneKey));
    await showDocument(page.kb, page.id);
  } catch (e) {
    button.disabled = false;
    showError(error, e.message);
  }
}

async function deleteChunk(c, n, error) {
  const path = page.detail && page.detail.document ? page.detail.document.path : '';
  if (!(await confirmAction(t('doc.confirmDeleteChunk', { n, path })))) return;
  try {
    await apiJSON(chunkPath(page.kb, c.id), { method: 'DELETE' });
    chunkCache.clear();
    toast(t('doc.deletedToast'));
    await showDocument(page.kb, page.id);
  } catch (e) {
    showError(error, e.message);
  }
}

// ----- Curated answers: the list on the documents page -----

const curated = { kb: '', list: null, token: 0 };

export async function loadCurated(kb) {
  const token = ++curated.token;
  curated.kb = kb;
  showError($('curated-error'), '');
  try {
    const body = await apiJSON(kbPath(kb) + '/curated');
    if (token !== curated.token) return;
    curated.list = Array.isArray(body && body.curated) ? body.curated : [];
  } catch (e) {
    if (token !== curated.token) return;
    curated.list = [];
    showError($('curated-error'), e.message);
  }
  renderCurated();
}

export function renderCurated() {
  const tbody = $('curated-table').tBodies[0];
  tbody.replaceChildren();
  const list = curated.list || [];
  $('curated-empty').hidden = list.length > 0 || curated.list === null;
  for (const e of list) {
    const edit = el('button', { type: 'button', class: 'ghost small' }, t('curated.edit'));
    edit.addEventListener('click', () => openCuratedDialog({ mode: 'edit', kb: curated.kb, entry: e }));
    const del = el('button', { type: 'button', class: 'danger-ghost small' }, t('curated.delete'));
    del.addEventListener('click', () => deleteCurated(curated.kb, e));
    tbody.append(el('tr', { dataset: { curatedId: String(e.id) } },
      el('th', { scope: 'row' }, e.question || ''),
      el('td', null, preview(e.answer, 120)),
      el('td', null, fmtDate(e.updated_at)),
      el('td', { class: 'actions' }, edit, del)));
  }
}

async function deleteCurated(kb, e) {
  if (!(await confirmAction(t('curated.confirmDelete', { question: preview(e.question, 60) })))) return;
  try {
    await apiJSON(kbPath(kb) + '/curated/' + encodeURIComponent(String(e.id)), { method: 'DELETE' });
    toast(t('curated.deleted'));
  } catch (err) {
    showError($('curated-error'), err.message);
  }
  if (state.docsKb === kb) loadCurated(kb);
}

// ----- The curated-answer dialog -----

let dialogState = null;

/** Opens the dialog: `{mode: 'new'|'correct'|'edit', kb, turn?, entry?}`. */
export function openCuratedDialog(opts) {
  dialogState = opts;
  const dialog = $('curated-dialog');
  const titles = { new: 'curated.dialogNew', correct: 'curated.dialogCorrect', edit: 'curated.dialogEdit' };
  $('curated-dialog-title').textContent = t(titles[opts.mode] || 'curated.dialogNew');
  $('curated-hint').textContent = t('curated.hint', { kb: opts.kb });
  showError($('curated-dialog-error'), '');
  let question = '';
  let answer = '';
  let note = '';
  if (opts.mode === 'correct') ({ question, answer } = correctionDraft(opts.turn));
  if (opts.mode === 'edit' && opts.entry) {
    question = opts.entry.question || '';
    answer = opts.entry.answer || '';
    note = opts.entry.note || '';
  }
  $('curated-question').value = question;
  $('curated-answer').value = answer;
  $('curated-note').value = note;
  $('curated-save').disabled = false;
  if (typeof dialog.showModal === 'function') dialog.showModal(); else dialog.setAttribute('open', '');
  (opts.mode === 'correct' ? $('curated-answer') : $('curated-question')).focus();
}

function closeCuratedDialog() {
  const dialog = $('curated-dialog');
  if (dialog.open) { if (typeof dialog.close === 'function') dialog.close(); else dialog.removeAttribute('open'); }
  dialogState = null;
}

async function saveCurated() {
  const opts = dialogState;
  if (!opts) return;
  const question = $('curated-question').value.trim();
  const answer = $('curated-answer').value.trim();
  const note = $('curated-note').value.trim();
  if (!question || !answer) { showError($('curated-dialog-error'), t('curated.missing')); return; }
  if (Array.from(question).length > MAX_QUESTION_CHARS) { showError($('curated-dialog-error'), t('error.tooLong')); return; }
  $('curated-save').disabled = true;
  try {
    if (opts.mode === 'edit') {
      await apiJSON(kbPath(opts.kb) + '/curated/' + encodeURIComponent(String(opts.entry.id)), {
        method: 'PATCH', json: curatedPatch(opts.entry, question, answer, note),
      });
    } else {
      const body = { question, answer };
      if (note) body.note = note;
      await apiJSON(kbPath(opts.kb) + '/curated', { method: 'POST', json: body });
    }
    closeCuratedDialog();
    toast(t('curated.saved'));
    if (state.docsKb === opts.kb && (state.view === 'docs' || state.view === 'doc')) loadCurated(opts.kb);
  } catch (e) {
    $('curated-save').disabled = false;
    showError($('curated-dialog-error'), e.status === 409 ? t('curated.duplicate') : e.message);
  }
}

export function setupDocPage() {
  $('curated-form').addEventListener('submit', (e) => { e.preventDefault(); saveCurated(); });
  $('curated-cancel').addEventListener('click', () => closeCuratedDialog());
  $('curated-dialog').addEventListener('cancel', (e) => { e.preventDefault(); closeCuratedDialog(); });
  $('curated-add').addEventListener('click', () => { if (state.docsKb) openCuratedDialog({ mode: 'new', kb: state.docsKb }); });
  $('doc-add-qa').addEventListener('click', () => { if (page.kb) openCuratedDialog({ mode: 'new', kb: page.kb }); });
}

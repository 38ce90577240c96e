// Wendao (问道) web UI: the documents of one knowledge base — the table (delete, re-ingest),
// uploads by drag and drop or file picker with progress, and the ingest jobs they start, polled
// until they finish.

import { I18N, t, fmtNumber, fmtBytes, fmtDate } from './i18n.js';
import { $, el, toast, showError, confirmAction, labelCells } from './dom.js';
import { apiJSON, xhrUpload, kbPath, documentPath, jobPath } from './api.js';
import { chunkCache } from './citations.js';
import { state } from './state.js';
import { loadKbs, selectKb } from './kbs.js';
import { docRoute } from './routes.js';
import { loadCurated } from './docpage.js';

const TERMINAL = new Set(['succeeded', 'partial', 'failed', 'cancelled']);
export const jobsByKb = new Map(); // kb → Map(jobId → {job, el, error, timer})
export const uploadsByKb = new Map(); // kb → [{name, size, progress, state, error, jobId, el}]

/**
 * Percent done of each file of a multipart upload, from the bytes sent so far: the files are sent
 * in order, and the form's overhead (`total` minus the files' sizes) is shared out evenly.
 */
export function uploadPercents(sizes, loaded, total) {
  const sum = sizes.reduce((a, b) => a + b, 0);
  const overhead = Math.max(0, total - sum) / (sizes.length || 1);
  const percents = [];
  let offset = 0;
  for (const size of sizes) {
    const span = size + overhead;
    const done = Math.min(Math.max(loaded - offset, 0), span);
    percents.push(span > 0 ? Math.floor((done / span) * 100) : 100);
    offset += span;
  }
  return percents;
}

/** The result of an ingest job for the uploaded file `name` (its path, or a path ending in /name). */
export function resultFor(results, name) {
  return (results || []).find((x) => x && typeof x.path === 'string' && (x.path === name || x.path.endsWith('/' + name)));
}

export async function loadDocs(kb) {
  showError($('docs-error'), '');
  try {
    const body = await apiJSON(kbPath(kb) + '/documents');
    if (state.docsKb !== kb) return;
    state.docs = Array.isArray(body && body.documents) ? body.documents : [];
  } catch (e) {
    if (state.docsKb !== kb) return;
    state.docs = [];
    showError($('docs-error'), e.message);
  }
  renderDocsTable();
}

export function renderDocsTable() {
  const tbody = $('docs-table').tBodies[0];
  tbody.replaceChildren();
  const docs = state.docs || [];
  $('docs-empty').hidden = docs.length > 0 || state.docs === null;
  for (const doc of docs) {
    const path = String(doc.path || doc.title || doc.id);
    const reingest = el('button', { type: 'button', class: 'ghost small', 'aria-label': t('docs.reingestLabel', { path }) }, t('docs.reingest'));
    reingest.addEventListener('click', () => reingestDoc(state.docsKb, doc, reingest));
    const del = el('button', { type: 'button', class: 'danger-ghost small', 'aria-label': t('docs.deleteLabel', { path }) }, t('docs.delete'));
    del.addEventListener('click', () => deleteDoc(state.docsKb, doc));
    const title = doc.title && doc.title !== path ? el('span', { class: 'doc-title' }, doc.title) : null;
    tbody.append(el('tr', { dataset: { docId: String(doc.id) } },
      el('th', { scope: 'row', class: 'path-cell' },
        el('a', { class: 'mono', href: docRoute(state.docsKb, doc.id), 'data-testid': 'doc-link', 'aria-label': t('doc.open', { path }) }, path), title),
      el('td', null, doc.format || t('common.none')),
      el('td', { class: 'num' }, fmtNumber(doc.chunks)),
      el('td', { class: 'num' }, fmtBytes(doc.bytes)),
      el('td', null, fmtDate(doc.ingested_at)),
      el('td', { class: 'actions' }, reingest, del)));
  }
  labelCells($('docs-table'));
}

async function deleteDoc(kb, doc) {
  const path = String(doc.path || doc.id);
  const ok = await confirmAction(t('docs.confirmDelete', { path, chunks: fmtNumber(doc.chunks), kb }));
  if (!ok) return;
  try {
    await apiJSON(documentPath(kb, doc.id), { method: 'DELETE' });
    toast(t('docs.deleted', { path }));
    chunkCache.clear();
  } catch (e) {
    showError($('docs-error'), e.message);
  }
  if (state.docsKb === kb) loadDocs(kb);
}

async function reingestDoc(kb, doc, button) {
  button.disabled = true;
  try {
    const job = await apiJSON(documentPath(kb, doc.id) + '/reingest', { method: 'POST' });
    toast(t('docs.reingestStarted', { path: String(doc.path || doc.id) }));
    chunkCache.clear();
    trackJob(kb, job);
  } catch (e) {
    showError($('docs-error'), e.message);
  } finally {
    button.disabled = false;
  }
}

// ----- uploads -----

function uploadsFor(kb) {
  if (!uploadsByKb.has(kb)) uploadsByKb.set(kb, []);
  return uploadsByKb.get(kb);
}

function startUpload(kb, fileList) {
  const files = Array.from(fileList || []).filter((f) => f && typeof f.name === 'string');
  if (!kb || !files.length) return;
  const items = files.map((file) => ({ file, name: file.name, size: file.size, progress: 0, state: 'waiting', error: '', jobId: null, el: null }));
  uploadsFor(kb).push(...items);
  for (const item of items) renderUpload(kb, item);
  uploadBatch(kb, items);
}

async function uploadBatch(kb, items) {
  const form = new FormData();
  for (const item of items) form.append('file', item.file, item.name);
  for (const item of items) { item.state = 'uploading'; item.progress = 0; renderUpload(kb, item); }
  // Files are sent in order, so the bytes sent so far tell how far each file is.
  const sizes = items.map((i) => i.size);
  const onProgress = (loaded, total) => {
    const percents = uploadPercents(sizes, loaded, total);
    for (let i = 0; i < items.length; i++) {
      items[i].progress = percents[i];
      renderUpload(kb, items[i]);
    }
  };
  try {
    const job = await xhrUpload(kbPath(kb) + '/documents', form, onProgress);
    for (const item of items) {
      item.state = 'done';
      item.progress = 100;
      item.jobId = job && job.id !== undefined ? job.id : null;
      renderUpload(kb, item);
    }
    if (job && job.id !== undefined) trackJob(kb, job);
  } catch (e) {
    if (e.status === 413 && items.length > 1) {
      toast(t('upload.split'));
      for (const item of items) await uploadBatch(kb, [item]);
      return;
    }
    for (const item of items) {
      item.state = 'failed';
      item.error = e.message;
      renderUpload(kb, item);
    }
    toast(t('upload.failed', { error: e.message }));
  }
}

export function renderUpload(kb, item) {
  if (!item.el) {
    item.el = el('li', { class: 'upload' });
    item.el.dataset.name = item.name;
  }
  let status;
  if (item.state === 'waiting') status = t('upload.waiting');
  else if (item.state === 'uploading') status = t('upload.progress', { p: item.progress });
  else if (item.state === 'done') status = t('upload.done', { id: item.jobId === null ? '?' : item.jobId });
  else if (item.state === 'ingested' && item.result && item.result.outcome === 'unchanged') status = t('upload.unchanged');
  else if (item.state === 'ingested') {
    const outcome = item.result && typeof item.result.outcome === 'string' ? item.result.outcome : '';
    status = t('upload.ingested', {
      outcome: I18N.en['job.outcome.' + outcome] ? t('job.outcome.' + outcome) : outcome,
      chunks: fmtNumber(item.result && typeof item.result.chunks === 'number' ? item.result.chunks : 0),
    });
  } else if (item.state === 'rejected') status = t('upload.rejected', { reason: (item.result && item.result.reason) || t('job.outcome.failed') });
  else status = t('upload.failed', { error: item.error });
  const progress = el('progress', { max: '100', value: String(item.progress), 'aria-label': item.name });
  const children = [
    el('span', { class: 'upload-name mono' }, item.name),
    el('span', { class: 'upload-size muted' }, fmtBytes(item.size)),
    progress,
    el('span', { class: 'upload-status' + (item.state === 'failed' ? ' error-text' : '') }, status),
  ];
  if (item.state !== 'waiting' && item.state !== 'uploading') {
    const dismiss = el('button', { type: 'button', class: 'icon-button', 'aria-label': t('upload.remove'), title: t('upload.remove') }, '×');
    dismiss.addEventListener('click', () => {
      const list = uploadsFor(kb);
      const i = list.indexOf(item);
      if (i >= 0) list.splice(i, 1);
      item.el.remove();
    });
    children.push(dismiss);
  }
  const failed = item.state === 'failed' || item.state === 'rejected';
  if (failed) children[3].classList.add('error-text');
  item.el.className = 'upload state-' + item.state + (failed ? ' state-failed' : '');
  item.el.replaceChildren(...children);
  if (state.docsKb === kb && item.el.parentNode !== $('uploads')) $('uploads').append(item.el);
}

// ----- jobs -----

function jobsFor(kb) {
  if (!jobsByKb.has(kb)) jobsByKb.set(kb, new Map());
  return jobsByKb.get(kb);
}

function trackJob(kb, job) {
  if (!job || job.id === undefined || job.id === null) return;
  const jobs = jobsFor(kb);
  let entry = jobs.get(String(job.id));
  if (!entry) {
    entry = { job, el: el('div', { class: 'job card' }), error: '', timer: 0, failures: 0 };
    entry.el.dataset.jobId = String(job.id);
    jobs.set(String(job.id), entry);
  } else {
    entry.job = job;
  }
  renderJob(kb, entry);
  if (!TERMINAL.has(job.state)) scheduleJobPoll(kb, entry);
  else {
    settleUploads(kb, job);
    if (state.docsKb === kb && state.view === 'docs') loadDocs(kb);
  }
}

function scheduleJobPoll(kb, entry) {
  clearTimeout(entry.timer);
  entry.timer = setTimeout(() => pollJob(kb, entry), 500);
}

async function pollJob(kb, entry) {
  try {
    const job = await apiJSON(jobPath(entry.job.id));
    entry.failures = 0;
    entry.error = '';
    if (job) entry.job = job;
  } catch (e) {
    entry.failures++;
    entry.error = t('job.lost', { error: e.message });
    if (e.status === 404 || entry.failures >= 5) { renderJob(kb, entry); return; }
  }
  renderJob(kb, entry);
  if (TERMINAL.has(entry.job.state)) {
    const j = entry.job;
    settleUploads(kb, j);
    toast(t('job.finished', { id: j.id, state: t('job.state.' + j.state), done: fmtNumber(j.files_done || 0), total: fmtNumber(j.files_total || 0) }));
    chunkCache.clear();
    if (state.docsKb === kb && state.view === 'docs') loadDocs(kb);
    loadKbs();
  } else {
    scheduleJobPoll(kb, entry);
  }
}

export function renderJob(kb, entry) {
  const job = entry.job;
  const jobState = typeof job.state === 'string' ? job.state : 'queued';
  const total = typeof job.files_total === 'number' ? job.files_total : 0;
  const done = typeof job.files_done === 'number' ? job.files_done : 0;
  const progress = el('progress', { 'aria-label': t('job.title', { id: job.id }) });
  if (total > 0) { progress.max = total; progress.value = Math.min(done, total); }
  else if (TERMINAL.has(jobState)) { progress.max = 1; progress.value = 1; }
  if (jobState === 'failed' || jobState === 'partial' || jobState === 'cancelled') progress.classList.add('bar-' + jobState);
  const head = el('div', { class: 'job-head' },
    el('strong', null, t('job.title', { id: job.id })),
    el('span', { class: 'badge state-' + jobState }, t('job.state.' + jobState)));
  if (TERMINAL.has(jobState) || entry.error) {
    const dismiss = el('button', { type: 'button', class: 'ghost small' }, t('job.dismiss'));
    dismiss.addEventListener('click', () => { clearTimeout(entry.timer); jobsFor(kb).delete(String(job.id)); entry.el.remove(); });
    head.append(dismiss);
  }
  const children = [head, progress,
    el('p', { class: 'job-progress muted' }, t('job.progress', { done: fmtNumber(done), total: fmtNumber(total), chunks: fmtNumber(job.chunks || 0) }))];
  if (job.error) children.push(el('p', { class: 'error-text' }, typeof job.error === 'string' ? job.error : (job.error.message || JSON.stringify(job.error))));
  if (entry.error) children.push(el('p', { class: 'error-text' }, entry.error));
  const results = Array.isArray(job.results) ? job.results : [];
  if (results.length) {
    const tbody = el('tbody');
    for (const r of results) {
      const outcome = typeof r.outcome === 'string' ? r.outcome : '';
      const known = ['added', 'updated', 'unchanged', 'failed', 'pruned'].includes(outcome);
      tbody.append(el('tr', { class: 'outcome-' + (known ? outcome : 'other') },
        el('td', { class: 'mono' }, r.path || ''),
        el('td', null, el('span', { class: 'badge outcome-' + (known ? outcome : 'other') }, known ? t('job.outcome.' + outcome) : outcome)),
        el('td', { class: 'num' }, r.chunks === null || r.chunks === undefined ? t('common.none') : fmtNumber(r.chunks)),
        // A failed file's reason is an error; a note on a file that went in (OCR used, pages
        // skipped) is information.
        el('td', { class: !r.reason ? 'muted' : outcome === 'failed' ? 'reason' : 'note' }, r.reason || '')));
    }
    children.push(el('div', { class: 'table-wrap' }, el('table', { class: 'data-table compact job-results' },
      el('thead', null, el('tr', null,
        el('th', { scope: 'col' }, t('job.col.file')), el('th', { scope: 'col' }, t('job.col.outcome')),
        el('th', { scope: 'col', class: 'num' }, t('job.col.chunks')), el('th', { scope: 'col' }, t('job.col.reason')))),
      tbody)));
  }
  entry.el.className = 'job card state-' + jobState;
  entry.el.replaceChildren(...children);
  if (state.docsKb === kb && state.view === 'docs' && entry.el.parentNode !== $('jobs')) $('jobs').prepend(entry.el);
}

/** When a job is finished, each uploaded file it carried shows its own outcome. */
function settleUploads(kb, job) {
  const results = Array.isArray(job.results) ? job.results : [];
  for (const item of uploadsFor(kb)) {
    if (item.state !== 'done' || item.jobId === null || String(item.jobId) !== String(job.id)) continue;
    const r = resultFor(results, item.name);
    if (!r) continue;
    item.result = r;
    item.state = r.outcome === 'failed' ? 'rejected' : 'ingested';
    renderUpload(kb, item);
  }
}

async function loadActiveJobs(kb) {
  try {
    const body = await apiJSON(kbPath(kb) + '/jobs');
    if (state.docsKb !== kb) return;
    const list = Array.isArray(body && body.jobs) ? body.jobs : [];
    for (const job of list.slice(0, 20).reverse()) {
      if (!TERMINAL.has(job.state) && !jobsFor(kb).has(String(job.id))) trackJob(kb, job);
    }
  } catch (e) { /* the jobs list is a convenience */ }
}

export function showDocs(kb) {
  const changed = state.docsKb !== kb;
  state.docsKb = kb;
  $('docs-kb-name').textContent = kb;
  $('docs-title').textContent = t('docs.title', { kb });
  if (changed) {
    state.docs = null;
    renderDocsTable();
    $('uploads').replaceChildren(...uploadsFor(kb).map((u) => u.el).filter(Boolean));
    $('jobs').replaceChildren(...Array.from(jobsFor(kb).values()).reverse().map((j) => j.el));
  }
  loadDocs(kb);
  loadCurated(kb);
  loadActiveJobs(kb);
}

export function setupDocs() {
  const drop = $('upload-drop');
  let depth = 0;
  drop.addEventListener('dragenter', (e) => { e.preventDefault(); depth++; drop.classList.add('dragover'); });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'; });
  drop.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) drop.classList.remove('dragover'); });
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    drop.classList.remove('dragover');
    if (e.dataTransfer && e.dataTransfer.files) startUpload(state.docsKb, e.dataTransfer.files);
  });
  // A file dropped next to the zone must not make the browser open it in place of the app.
  window.addEventListener('dragover', (e) => { if (e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files')) e.preventDefault(); });
  window.addEventListener('drop', (e) => { if (e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files')) e.preventDefault(); });
  $('choose-files').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', (e) => {
    startUpload(state.docsKb, e.target.files);
    e.target.value = '';
  });
  $('docs-refresh').addEventListener('click', () => { if (state.docsKb) { loadDocs(state.docsKb); loadActiveJobs(state.docsKb); } });
  $('docs-ask').addEventListener('click', () => { if (state.docsKb) selectKb(state.docsKb); });
}

/** Renders the documents view again (after the language changed). */
export function renderDocsView() {
  if (state.docsKb) { $('docs-title').textContent = t('docs.title', { kb: state.docsKb }); renderDocsTable(); }
  for (const [kb, list] of uploadsByKb) for (const item of list) renderUpload(kb, item);
  for (const [kb, jobs] of jobsByKb) for (const entry of jobs.values()) renderJob(kb, entry);
}

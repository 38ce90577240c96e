// Wendao (问道) web UI: the image studio — the Images page (generate with parameters, live task
// status, the gallery grid, a record's details with "run again") and the Try-on page (person and
// garments uploaded, the result beside them). Both are laid out for a 390×844 phone screen too.
// Pictures are fetched with the caller's credentials and shown as data: URLs (the page's CSP allows
// images from the server and data: only).

import { t } from './i18n.js';
import { $, el, toast, confirmAction } from './dom.js';
import { apiJSON, apiFetch } from './api.js';
import { SIZES, generationBody, valuesFromRecord, statusKey, isRunning, costText, filePath, gridPicture } from './imagedata.js';

const gallery = { records: [], total: 0, query: '', selected: null };
let liveTimer = null;

/** A picture of a record as a data: URL (cached per path). */
const pictures = new Map();
async function picture(path) {
  if (pictures.has(path)) return pictures.get(path);
  const res = await apiFetch(path, { headers: { Accept: 'image/*' } });
  const blob = await res.blob();
  const url = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
  if (pictures.size > 200) pictures.clear();
  pictures.set(path, url);
  return url;
}

function image(path, alt, cls, fallback) {
  const img = el('img', { alt, class: cls || 'thumb', loading: 'lazy' });
  const missing = () => { img.alt = t('images.noPicture'); };
  picture(path).then((url) => { img.src = url; }).catch(() => {
    if (fallback) picture(fallback).then((url) => { img.src = url; }).catch(missing);
    else missing();
  });
  return img;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * Follows a task the server accepted (202) by polling its record every second until it ends (or 15
 * minutes pass); `onChange` sees each new status.
 */
async function follow(record, onChange) {
  const started = Date.now();
  let r = record;
  let last = '';
  for (;;) {
    if (r.status !== last) { last = r.status; onChange(r); }
    if (!isRunning(r.status) || Date.now() - started > 15 * 60 * 1000) return r;
    await sleep(1000);
    r = await apiJSON('/api/v1/images/' + encodeURIComponent(String(r.id)));
  }
}

function liveText(r) {
  return t('images.following', { id: r.id, status: t(statusKey(r.status)) });
}

function statusBadge(status) {
  return el('span', { class: 'badge status-' + String(status).replace(/[^a-z_]/g, ''), 'data-testid': 'image-status' }, t(statusKey(status)));
}

function formValues() {
  return {
    prompt: $('images-prompt').value, negative: $('images-negative').value, model: $('images-model').value,
    size: $('images-size').value, n: $('images-n').value, seed: $('images-seed').value, tags: $('images-tags').value,
  };
}

function fillForm(v) {
  $('images-prompt').value = v.prompt;
  $('images-negative').value = v.negative;
  $('images-model').value = v.model;
  $('images-size').value = v.size;
  $('images-n').value = String(v.n);
  $('images-seed').value = v.seed;
  $('images-tags').value = v.tags;
}

async function generate() {
  const status = $('images-status');
  const made = generationBody(formValues());
  if (made.error) { status.className = 'error-box'; status.textContent = t(made.error); return; }
  status.className = 'hint';
  status.textContent = t('images.working');
  $('images-submit').disabled = true;
  startLive();
  try {
    const accepted = await apiJSON('/api/v1/images', { method: 'POST', json: made.body });
    const record = await follow(accepted, (r) => { status.textContent = liveText(r); });
    status.textContent = record && record.status === 'succeeded'
      ? t('images.done', { n: record.files.length }) : t(statusKey(record && record.status)) + (record && record.error_message ? ' — ' + record.error_message : '');
    if (record && record.status !== 'succeeded') status.className = 'error-box';
    await loadImages();
    if (record) showDetail(record);
  } catch (e) {
    status.className = 'error-box';
    status.textContent = e.message;
  } finally {
    $('images-submit').disabled = false;
    stopLive();
  }
}

/** While a task runs, the tasks still going are shown with their state (polled every 2 s). */
function startLive() {
  stopLive();
  const tick = async () => {
    try {
      const body = await apiJSON('/api/v1/images?limit=10');
      const running = ((body && body.records) || []).filter((r) => isRunning(r.status));
      $('images-live').replaceChildren(...running.map((r) => el('li', null, '#' + r.id + ' ', statusBadge(r.status), ' ', r.prompt.slice(0, 60))));
    } catch (e) { /* the next tick tries again */ }
  };
  tick();
  liveTimer = setInterval(tick, 2000);
}

function stopLive() {
  if (liveTimer) clearInterval(liveTimer);
  liveTimer = null;
  const live = $('images-live');
  if (live) live.replaceChildren();
}

export async function loadImages() {
  const q = gallery.query ? '&query=' + encodeURIComponent(gallery.query) : '';
  try {
    const body = await apiJSON('/api/v1/images?limit=50' + q);
    gallery.records = (body && body.records) || [];
    gallery.total = (body && body.total) || 0;
  } catch (e) {
    $('images-grid-status').className = 'error-box';
    $('images-grid-status').textContent = e.message;
    return;
  }
  renderImages();
}

export function renderImages() {
  const grid = $('images-grid');
  if (!grid) return;
  $('images-grid-status').className = 'hint';
  $('images-grid-status').textContent = gallery.records.length ? t('images.count', { n: gallery.records.length, total: gallery.total }) : t('images.empty');
  grid.replaceChildren(...gallery.records.map((r) => {
    const shown = gridPicture(r.id, r.files && r.files[0]);
    return el('li', { class: 'image-card card', dataset: { id: String(r.id) } },
      el('button', { type: 'button', class: 'image-open', 'aria-label': t('images.open', { id: r.id }), onclick: () => showDetail(r) },
        shown ? image(shown.path, r.prompt, 'thumb', shown.fallback) : el('span', { class: 'thumb empty' }, t(statusKey(r.status)))),
      el('div', { class: 'image-meta' },
        statusBadge(r.status), r.favourite ? el('span', { class: 'fav', 'aria-label': t('images.favourite') }, '★') : null,
        el('p', { class: 'image-prompt' }, r.prompt)));
  }));
}

function showDetail(r) {
  gallery.selected = r;
  const box = $('images-detail');
  box.hidden = false;
  const params = JSON.stringify(r.parameters || {});
  const rows = [
    ['images.model', r.model], ['images.seed', r.seed === undefined ? '—' : String(r.seed)], ['images.params', params],
    ['images.cost', costText(r) || '—'], ['images.time', typeof r.seconds === 'number' ? r.seconds.toFixed(1) + ' s' : '—'],
    ['images.task', r.task_id || '—'],
  ];
  if (r.negative_prompt) rows.splice(1, 0, ['images.negative', r.negative_prompt]);
  if (r.error_message) rows.push(['images.error', (r.error_code ? r.error_code + ': ' : '') + r.error_message]);
  box.replaceChildren(
    el('h2', null, '#' + r.id + ' ', statusBadge(r.status)),
    el('p', { class: 'image-prompt-full' }, r.prompt),
    el('div', { class: 'image-files' }, ...(r.files || []).map((f) => el('figure', null,
      image(filePath(r.id, f.index), r.prompt, 'full'),
      el('figcaption', { class: 'small-text muted' }, f.width + '×' + f.height + ' · sha256 ' + f.sha256.slice(0, 12) + '…')))),
    el('dl', { class: 'image-facts' }, ...rows.flatMap(([k, v]) => [el('dt', null, t(k)), el('dd', null, v)])),
    el('div', { class: 'row-actions' },
      r.kind === 'generate' ? el('button', { type: 'button', class: 'primary', 'data-testid': 'image-again', onclick: () => { fillForm(valuesFromRecord(r)); generate(); } }, t('images.again')) : null,
      el('button', { type: 'button', onclick: () => toggleFavourite(r) }, t(r.favourite ? 'images.unfavourite' : 'images.favourite')),
      r.files && r.files.length ? el('button', { type: 'button', 'data-testid': 'image-share', onclick: () => share(r) }, t('images.share')) : null,
      el('button', { type: 'button', class: 'danger', onclick: () => remove(r) }, t('common.delete'))));
}

async function share(r) {
  try {
    const body = await apiJSON('/api/v1/images/' + r.id + '/share', { method: 'POST' });
    const url = location.origin + body.path;
    const box = $('images-detail');
    box.append(el('p', { class: 'share-link', 'data-testid': 'image-share-link' }, t('images.shared') + ' ', el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, url)));
  } catch (e) { toast(e.message); }
}

async function toggleFavourite(r) {
  try {
    const updated = await apiJSON('/api/v1/images/' + r.id, { method: 'PATCH', json: { favourite: !r.favourite } });
    showDetail(updated);
    await loadImages();
  } catch (e) { toast(e.message); }
}

async function remove(r) {
  if (!(await confirmAction(t('images.deleteConfirm', { id: r.id }), t('common.delete')))) return;
  try {
    await apiJSON('/api/v1/images/' + r.id, { method: 'DELETE' });
    $('images-detail').hidden = true;
    await loadImages();
  } catch (e) { toast(e.message); }
}

// ----- Try-on -----

function readFile(input) {
  const file = input.files && input.files[0];
  if (!file) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function preview(role) {
  const url = await readFile($('tryon-' + role)).catch(() => null);
  const slot = $('tryon-' + role + '-preview');
  slot.replaceChildren(url && url.startsWith('data:image/') ? el('img', { src: url, alt: t('tryon.' + role), class: 'thumb' }) : '');
}

async function tryOn() {
  const status = $('tryon-status');
  status.className = 'hint';
  const [person, top, bottom] = await Promise.all(['person', 'top', 'bottom'].map((r) => readFile($('tryon-' + r))));
  if (!person) { status.className = 'error-box'; status.textContent = t('tryon.needPerson'); return; }
  if (!top && !bottom) { status.className = 'error-box'; status.textContent = t('tryon.needGarment'); return; }
  const json = { person, model: $('tryon-model').value };
  if (top) json.top = top;
  if (bottom) json.bottom = bottom;
  status.textContent = t('images.working');
  $('tryon-submit').disabled = true;
  try {
    const accepted = await apiJSON('/api/v1/tryon', { method: 'POST', json });
    const r = await follow(accepted, (x) => { status.textContent = liveText(x); });
    const out = $('tryon-result');
    out.replaceChildren(statusBadge(r.status), ...(r.files || []).map((f) => image(filePath(r.id, f.index), t('tryon.result'), 'full')));
    status.textContent = r.status === 'succeeded' ? t('images.done', { n: r.files.length }) : (r.error_message || t(statusKey(r.status)));
    if (r.status !== 'succeeded') status.className = 'error-box';
  } catch (e) {
    status.className = 'error-box';
    status.textContent = e.message;
  } finally {
    $('tryon-submit').disabled = false;
  }
}

export function setupImages() {
  const sizes = $('images-size-list');
  if (sizes) sizes.replaceChildren(...SIZES.map((s) => el('option', { value: s })));
  $('images-form').addEventListener('submit', (e) => { e.preventDefault(); generate(); });
  $('images-search').addEventListener('submit', (e) => { e.preventDefault(); gallery.query = $('images-query').value.trim(); loadImages(); });
  $('tryon-form').addEventListener('submit', (e) => { e.preventDefault(); tryOn(); });
  for (const role of ['person', 'top', 'bottom']) $('tryon-' + role).addEventListener('change', () => preview(role));
}

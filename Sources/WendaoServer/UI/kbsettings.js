// Wendao (问道) web UI: a knowledge base's settings page (#/settings/NAME) — answer model, retrieval
// and fusion (at once), embedder and BM25 (need a reindex, which runs as a job from here), chunking
// and OCR (for files imported afterwards). Only callers that may change the settings see the form
// work; others get the server's 404, explained.

import { t } from './i18n.js';
import { $, showError, toast } from './dom.js';
import { apiJSON, kbPath, jobPath } from './api.js';
import { docsRoute } from './routes.js';
import { adminError } from './kbs.js';
import { modelChoices } from './admin.js';
import { el } from './dom.js';

const view = { kb: '', current: null };

/** What a change from `before` to `after` needs: 'reindex' (BM25 or the embedder), 'reimport'
 *  (chunking, OCR: files imported afterwards), both, or nothing. Returns a set of those words. */
export function changeNeeds(before, after) {
  const needs = new Set();
  if (!before) return needs;
  if ((after.embedder ?? null) !== (before.embedder ?? null) || after.k1 !== before.k1 || after.b !== before.b) needs.add('reindex');
  if (after.chunk_size !== before.chunk_size || after.chunk_overlap !== before.chunk_overlap
    || (after.ocr_languages || []).join('+') !== (before.ocr_languages || []).join('+')
    || (after.ocr_engine ?? 'auto') !== (before.ocr_engine ?? 'auto')) needs.add('reimport');
  return needs;
}

/** The PATCH body for the form's values: only what differs from `before` (a cleared model or
 *  embedder is sent as null). */
export function settingsPatch(before, values) {
  const patch = {};
  for (const key of ['chunk_size', 'chunk_overlap', 'k1', 'b', 'retrieval', 'fusion', 'ocr_engine']) {
    if (values[key] !== undefined && values[key] !== before[key]) patch[key] = values[key];
  }
  for (const key of ['model', 'embedder']) {
    const v = values[key] || null;
    if (v !== (before[key] ?? null)) patch[key] = v;
  }
  const ocr = (values.ocr_languages || []).join('+');
  if (ocr !== (before.ocr_languages || []).join('+')) patch.ocr_languages = values.ocr_languages;
  return patch;
}

function fill(kb) {
  $('set-model').value = kb.model || '';
  $('set-retrieval').value = kb.retrieval;
  $('set-fusion').value = kb.fusion;
  $('set-embedder').value = kb.embedder || '';
  $('set-k1').value = String(kb.k1);
  $('set-b').value = String(kb.b);
  $('set-size').value = String(kb.chunk_size);
  $('set-overlap').value = String(kb.chunk_overlap);
  $('set-ocr').value = (kb.ocr_languages || []).join('+');
  $('set-ocr-engine').value = kb.ocr_engine || 'auto';
}

function values() {
  const num = (id) => { const v = Number($(id).value); return Number.isFinite(v) ? v : undefined; };
  return {
    model: $('set-model').value.trim(), retrieval: $('set-retrieval').value, fusion: $('set-fusion').value,
    embedder: $('set-embedder').value.trim(), k1: num('set-k1'), b: num('set-b'), chunk_size: num('set-size'),
    chunk_overlap: num('set-overlap'), ocr_languages: $('set-ocr').value.split(/[+,\s]+/).filter(Boolean),
    ocr_engine: $('set-ocr-engine').value,
  };
}

export async function showSettings(kb) {
  view.kb = kb;
  view.current = null;
  $('settings-title').textContent = t('kbset.titleOf', { name: kb });
  $('settings-docs').setAttribute('href', docsRoute(kb));
  $('settings-reindex-box').hidden = true;
  showError($('settings-error'), '');
  try {
    view.current = await apiJSON(kbPath(kb));
    fill(view.current);
  } catch (e) {
    showError($('settings-error'), adminError(e));
  }
  // The model picker: providers with a key (the administrator's list; others type a name).
  try {
    const body = await apiJSON('/api/v1/providers');
    $('model-names').replaceChildren(...modelChoices(body && body.providers).map((m) => el('option', { value: m })));
  } catch (e) { /* not the administrator: free text only */ }
}

async function trackJob(job) {
  for (let i = 0; i < 600; i++) {
    $('settings-job').dataset.state = job.state;
    $('settings-job').textContent = t('kbset.jobState', { state: t('job.state.' + job.state) });
    if (['succeeded', 'failed', 'partial', 'cancelled'].includes(job.state)) break;
    await new Promise((r) => setTimeout(r, 1000));
    try { job = await apiJSON(jobPath(job.id)); } catch (e) { break; }
  }
  if (job.state === 'succeeded') toast(t('kbset.reindexed'));
}

export function setupSettings() {
  $('settings-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!view.current) return;
    showError($('settings-error'), '');
    const patch = settingsPatch(view.current, values());
    if (!Object.keys(patch).length) { toast(t('kbset.nothing')); return; }
    try {
      const updated = await apiJSON(kbPath(view.kb), { method: 'PATCH', json: patch });
      const needs = changeNeeds(view.current, updated);
      view.current = updated;
      fill(updated);
      toast(needs.has('reimport') ? t('kbset.savedReimport') : t('kbset.saved'));
      $('settings-reindex-box').hidden = !needs.has('reindex');
      $('settings-job').textContent = '';
    } catch (err) {
      showError($('settings-error'), adminError(err));
    }
  });
  $('settings-reindex').addEventListener('click', async () => {
    $('settings-reindex').disabled = true;
    try {
      const job = await apiJSON(kbPath(view.kb) + '/reindex', { method: 'POST' });
      await trackJob(job);
    } catch (err) {
      showError($('settings-error'), adminError(err));
    } finally {
      $('settings-reindex').disabled = false;
    }
  });
}

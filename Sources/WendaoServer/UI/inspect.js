// Wendao (问道) web UI: the model page (#/model). How a local model reads and writes: the text's
// tokens (each coloured, with its id), the prompt the chat template renders, and for each generated
// token the candidates the model weighed, with their probabilities. The pure helpers at the top
// have no DOM access and are tested under `node --test` (Tests/ui/inspect.test.mjs).

import { t } from './i18n.js';
import { $, el } from './dom.js';
import { apiJSON } from './api.js';

/** A token's text made visible: spaces as ␣, newlines as ↵, tabs as ⇥ (an empty piece as ∅). */
export function visiblePiece(piece) {
  const s = typeof piece === 'string' ? piece : '';
  if (!s) return '∅';
  return s.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥');
}

/** One of eight colour classes for the token at `index`: neighbours always differ. */
export function tokenClass(index) { return 'tok tok-' + (((index % 8) + 8) % 8); }

/** A probability in 0…1 as a percentage with one decimal ("12.5 %"), "<0.1 %" for tiny ones. */
export function percent(p) {
  if (typeof p !== 'number' || !isFinite(p) || p < 0) return '—';
  if (p > 0 && p < 0.001) return '<0.1 %';
  return (Math.min(p, 1) * 100).toFixed(1) + ' %';
}

/**
 * What the form asks the server for, checked as the server checks it: `{ok: true, body}` or
 * `{ok: false, error}` (an i18n key).
 */
export function inspectRequest(form) {
  const text = typeof form.text === 'string' ? form.text : '';
  if (!text.trim()) return { ok: false, error: 'inspect.needText' };
  if (text.length > 8000) return { ok: false, error: 'inspect.tooLong' };
  const steps = Number.parseInt(form.steps, 10);
  const top = Number.parseInt(form.top, 10);
  const temperature = Number.parseFloat(form.temperature);
  if (!(steps >= 0 && steps <= 64) || !(top >= 1 && top <= 20) || !(temperature >= 0 && temperature <= 2)) {
    return { ok: false, error: 'inspect.badNumbers' };
  }
  const body = { text, steps, top, temperature, chat: form.chat !== false };
  if (form.model) body.model = form.model;
  return { ok: true, body };
}

// ----- DOM -----

let models = null;
let inspectToken = 0;

/** Loads the local models into the picker (once per page; again after a failure). */
export async function loadInspect() {
  if (models) return;
  const status = $('inspect-status');
  try {
    const body = await apiJSON('/api/v1/llm/models');
    models = Array.isArray(body && body.models) ? body.models : [];
    const select = $('inspect-model');
    select.replaceChildren(...models.map((m) => el('option', { value: m }, m)));
    if (body && body.default_model) select.value = body.default_model;
    status.className = 'hint';
    status.textContent = models.length ? '' : t('inspect.noModels');
  } catch (e) {
    models = null;
    status.className = 'error-box';
    status.textContent = e.message;
  }
}

async function runInspect() {
  const status = $('inspect-status');
  const request = inspectRequest({
    model: $('inspect-model').value, text: $('inspect-text').value, steps: $('inspect-steps').value,
    top: $('inspect-top').value, temperature: $('inspect-temperature').value, chat: !$('inspect-raw').checked,
  });
  if (!request.ok) {
    status.className = 'error-box';
    status.textContent = t(request.error);
    return;
  }
  const token = ++inspectToken;
  status.className = 'hint';
  status.textContent = t('inspect.running');
  $('inspect-submit').disabled = true;
  try {
    const report = await apiJSON('/api/v1/llm/inspect', { method: 'POST', json: request.body });
    if (token !== inspectToken) return;
    status.textContent = '';
    renderReport(report);
  } catch (e) {
    if (token !== inspectToken) return;
    status.className = 'error-box';
    status.textContent = e.message;
  } finally {
    if (token === inspectToken) $('inspect-submit').disabled = false;
  }
}

function tokenChip(tok, index) {
  return el('span', { class: tokenClass(index), title: 'id ' + tok.id },
    el('span', { class: 'tok-piece' }, visiblePiece(tok.piece)), el('span', { class: 'tok-id' }, String(tok.id)));
}

function renderReport(r) {
  const out = $('inspect-result');
  const textTokens = Array.isArray(r.text_tokens) ? r.text_tokens : [];
  const steps = Array.isArray(r.steps) ? r.steps : [];
  const rows = steps.map((s, i) => {
    const cands = (Array.isArray(s.candidates) ? s.candidates : []).map((c) => {
      const chosen = s.chosen && c.id === s.chosen.id;
      const width = Math.max(1, Math.round(Math.min(1, Math.max(0, c.probability || 0)) * 100));
      return el('li', { class: chosen ? 'cand chosen' : 'cand' },
        el('span', { class: 'cand-piece' }, visiblePiece(c.piece)),
        el('span', { class: 'cand-bar', 'aria-hidden': 'true', dataset: { w: String(width) } }),
        el('span', { class: 'cand-p' }, percent(c.probability)));
    });
    return el('tr', null,
      el('td', { class: 'num' }, String(i + 1)),
      el('td', null, tokenChip(s.chosen || { id: -1, piece: '' }, textTokens.length + i)),
      el('td', null, el('ol', { class: 'cands' }, ...cands)),
      el('td', { class: 'num' }, (typeof s.ms === 'number' ? s.ms.toFixed(1) : '—') + ' ms'));
  });
  out.replaceChildren(
    el('p', { class: 'hint' }, t('inspect.about', { model: r.model || '', arch: r.architecture || '', params: r.parameters || '' })),
    el('h2', null, t('inspect.tokens', { n: textTokens.length })),
    el('p', { class: 'tokens', 'data-testid': 'inspect-tokens' }, ...textTokens.map(tokenChip)),
    el('h2', null, t('inspect.prompt', { n: r.prompt_tokens || 0 })),
    el('pre', { class: 'prompt' }, r.prompt || ''),
    el('h2', null, t('inspect.steps', { sampler: r.sampler || '' })),
    el('table', { class: 'steps', 'data-testid': 'inspect-steps' },
      el('thead', null, el('tr', null, el('th', null, '#'), el('th', null, t('inspect.chosen')),
        el('th', null, t('inspect.candidates')), el('th', null, t('inspect.time')))),
      el('tbody', null, ...rows)),
    el('h2', null, t('inspect.answer')),
    el('p', { class: 'answer-text', 'data-testid': 'inspect-answer' }, r.answer || ''),
    el('p', { class: 'hint' }, t('inspect.stats', {
      kv: (r.kv_cache_mb || 0).toFixed(1), ctx: r.context || 0, prompt: Math.round(r.prompt_ms || 0),
      per: (r.ms_per_token || 0).toFixed(1),
    })));
  // Bars: widths set through the CSSOM (the page's policy allows no inline style attributes).
  for (const bar of out.querySelectorAll('.cand-bar')) bar.style.width = bar.dataset.w + 'px';
}

export function setupInspect() {
  $('inspect-form').addEventListener('submit', (e) => { e.preventDefault(); runInspect(); });
}

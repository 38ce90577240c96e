// Wendao (问道) web UI: the search view (hit test): which passages retrieval finds for a query in the
// chosen knowledge base, with their scores and the query's terms highlighted.

import { t } from './i18n.js';
import { $, el, highlighted } from './dom.js';
import { apiJSON, kbPath } from './api.js';
import { queryTermRanges } from './citations.js';
import { state } from './state.js';
import { selectKb } from './kbs.js';

let searchToken = 0;
async function runSearch() {
  const query = $('search-query').value.trim();
  const kb = state.kb;
  const status = $('search-status');
  status.className = 'hint';
  if (!kb) { status.textContent = t('chat.pickKb'); return; }
  if (!query) { status.textContent = t('search.typeQuery'); $('search-query').focus(); return; }
  let topK = parseInt($('search-topk').value, 10);
  if (!isFinite(topK) || topK < 1) topK = 10;
  topK = Math.min(topK, 100);
  const token = ++searchToken;
  status.textContent = t('search.searching');
  $('search-submit').disabled = true;
  try {
    const body = await apiJSON(kbPath(kb) + '/search', { method: 'POST', json: { query, top_k: topK } });
    if (token !== searchToken) return;
    state.searchResult = { query: (body && body.query) || query, results: Array.isArray(body && body.results) ? body.results : [], kb };
    renderSearch();
  } catch (e) {
    if (token !== searchToken) return;
    state.searchResult = null;
    $('search-results').replaceChildren();
    status.className = 'error-box';
    status.textContent = e.message;
  } finally {
    if (token === searchToken) $('search-submit').disabled = false;
  }
}

export function renderSearch() {
  const r = state.searchResult;
  const list = $('search-results');
  const status = $('search-status');
  if (!r) return;
  status.className = 'hint';
  status.textContent = r.results.length ? t('search.count', { n: r.results.length, query: r.query }) : t('search.none', { query: r.query });
  list.replaceChildren();
  for (const hit of r.results) {
    const score = typeof hit.score === 'number' ? hit.score.toFixed(3) : String(hit.score);
    const where = [el('span', { class: 'hit-doc' }, hit.document || '')];
    if (hit.section) where.push(el('span', { class: 'sep', 'aria-hidden': 'true' }, ' › '), el('span', { class: 'hit-section' }, hit.section));
    // The page is for people; the score and the chunk id are behind a details toggle.
    const meta = [];
    if (hit.page !== null && hit.page !== undefined) meta.push(el('span', { class: 'hit-page' }, t('search.page', { page: hit.page })));
    const tech = [el('span', { class: 'hit-score' }, t('search.score', { score }))];
    if (hit.chunk_id !== null && hit.chunk_id !== undefined) tech.push(' · ', el('span', { class: 'hit-chunk muted' }, t('search.chunk', { id: hit.chunk_id })));
    meta.push(el('details', { class: 'tech-details' }, el('summary', null, t('common.details')), ...tech));
    const text = typeof hit.text === 'string' ? hit.text : '';
    list.append(el('li', { class: 'result card', dataset: { rank: String(hit.rank), chunkId: String(hit.chunk_id) } },
      el('div', { class: 'result-head' },
        el('span', { class: 'rank', 'aria-label': '#' + hit.rank }, '#' + hit.rank),
        el('span', { class: 'hit-where' }, where),
        el('span', { class: 'hit-meta' }, meta)),
      el('p', { class: 'hit-text' }, highlighted(text, queryTermRanges(text, r.query), 'term'))));
  }
}

export function setupSearch() {
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); runSearch(); });
  $('search-kb').addEventListener('change', (e) => selectKb(e.target.value));
}

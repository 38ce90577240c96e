// Wendao (问道) web UI: the conversation log for supervisors (#/log) — every kept conversation,
// filtered by knowledge base, date, "not found" and thumbs down, paged, with a CSV download of the
// matching turns. The server shows a key only its own conversations and the CSV only to the admin
// key (there are no user roles yet).

import { t, fmtDate, fmtNumber } from './i18n.js';
import { $, el, toast, showError } from './dom.js';
import { apiFetch, apiJSON } from './api.js';
import { listURL, exportURL, conversationTitle, dateValue } from './conversations.js';
import { state } from './state.js';
import { openConversation } from './history.js';

const PAGE = 50;

export const log = { filters: {}, items: [], cursor: null, loading: false, error: '', loaded: false, token: 0 };

function readFilters() {
  return {
    kb: $('log-kb').value,
    from: dateValue($('log-from').value),
    to: dateValue($('log-to').value),
    notFound: $('log-notfound').checked,
    thumbsDown: $('log-thumbsdown').checked,
  };
}

/** Loads the first page for the filters in the form (or, with `more`, the next page). */
export async function loadLog(more) {
  if (more && !log.cursor) return;
  if (!more) log.filters = readFilters();
  const token = ++log.token;
  log.loading = true;
  renderLog();
  try {
    const body = await apiJSON(listURL(Object.assign({ limit: PAGE, cursor: more ? log.cursor : '' }, log.filters)));
    if (token !== log.token) return;
    const rows = Array.isArray(body && body.conversations) ? body.conversations : [];
    log.items = more ? log.items.concat(rows) : rows;
    log.cursor = body && typeof body.next_cursor === 'string' ? body.next_cursor : null;
    log.error = '';
    log.loaded = true;
  } catch (e) {
    if (token !== log.token) return;
    log.error = e.message;
  } finally {
    if (token === log.token) {
      log.loading = false;
      renderLog();
    }
  }
}

/** The knowledge-base filter's options: every knowledge base, and "all". */
export function renderLogKbs() {
  const select = $('log-kb');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, t('log.allKbs')));
  for (const kb of state.kbs || []) select.append(el('option', { value: kb.name }, kb.name));
  select.value = (state.kbs || []).some((k) => k.name === chosen) ? chosen : '';
}

export function renderLog() {
  renderLogKbs();
  const tbody = $('log-table').tBodies[0];
  tbody.replaceChildren();
  for (const c of log.items) {
    const open = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'log-open' }, t('log.open'));
    open.addEventListener('click', () => openConversation(c.id));
    const flags = [];
    if (c.not_found > 0) flags.push(el('span', { class: 'badge warn' }, t('log.notFoundCount', { n: c.not_found })));
    if (c.thumbs_down > 0) flags.push(el('span', { class: 'badge danger' }, t('log.thumbsDownCount', { n: c.thumbs_down })));
    tbody.append(el('tr', { 'data-testid': 'log-row', dataset: { id: String(c.id) } },
      el('td', { 'data-label': t('log.col.updated') }, fmtDate(c.updated_at)),
      el('td', { 'data-label': t('log.col.kb') }, c.kb),
      el('th', { scope: 'row', 'data-label': t('log.col.title') }, conversationTitle(c), ' ', ...flags),
      el('td', { class: 'num', 'data-label': t('log.col.turns') }, fmtNumber(c.turns)),
      el('td', { 'data-label': t('log.col.caller') }, c.caller && c.caller.name ? c.caller.name : ''),
      el('td', { class: 'actions' }, open)));
  }
  showError($('log-error'), log.error);
  $('log-empty').hidden = !log.loaded || log.items.length > 0 || Boolean(log.error);
  $('log-more').hidden = !log.cursor;
  $('log-more').disabled = log.loading;
  $('log-status').textContent = log.loading ? t('log.loading') : log.loaded ? t('log.count', { n: log.items.length }) : '';
  $('log-csv').setAttribute('href', exportURL(log.filters));
}

/** Downloads the CSV of the current filters (fetched with the API key, saved from a blob). */
async function downloadCSV(e) {
  e.preventDefault();
  try {
    const res = await apiFetch(exportURL(log.filters), { headers: { Accept: 'text/csv' } });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: 'wendao-conversations.csv', hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    toast(err.status === 404 ? t('log.adminOnly') : err.message);
  }
}

export function setupLog() {
  $('log-form').addEventListener('submit', (e) => { e.preventDefault(); loadLog(false); });
  $('log-more').addEventListener('click', () => loadLog(true));
  $('log-csv').addEventListener('click', downloadCSV);
}

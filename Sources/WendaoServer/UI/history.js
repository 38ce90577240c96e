// Wendao (问道) web UI: the history sidebar of the chat — the conversations the server kept for
// the chosen knowledge base (this key's own, or all with the admin key), newest first, paged; one
// is reopened into the chat to be read and continued, or deleted. Collapsible on phones.

import { t, fmtDate } from './i18n.js';
import { $, el, toast, confirmAction } from './dom.js';
import { apiJSON } from './api.js';
import { listURL, conversationPath, conversationTitle, turnFromStored } from './conversations.js';
import { state, chat } from './state.js';
import { newConversation, showConversation } from './chat.js';
import { selectKb } from './kbs.js';

const PAGE = 30;

export const history = { kb: '', items: [], cursor: null, loading: false, error: '', token: 0 };

/** Loads the first page of the chosen knowledge base's conversations (or, with `more`, the next). */
export async function loadHistory(more) {
  const kb = state.kb;
  if (!kb) {
    history.kb = '';
    history.items = [];
    history.cursor = null;
    renderHistory();
    return;
  }
  if (more && (!history.cursor || history.kb !== kb)) return;
  const token = ++history.token;
  history.loading = true;
  renderHistory();
  try {
    const body = await apiJSON(listURL({ kb, limit: PAGE, cursor: more ? history.cursor : '' }));
    if (token !== history.token) return;
    const rows = Array.isArray(body && body.conversations) ? body.conversations : [];
    history.items = more ? history.items.concat(rows) : rows;
    history.cursor = body && typeof body.next_cursor === 'string' ? body.next_cursor : null;
    history.kb = kb;
    history.error = '';
  } catch (e) {
    if (token !== history.token) return;
    history.error = e.message;
  } finally {
    if (token === history.token) {
      history.loading = false;
      renderHistory();
    }
  }
}

export function renderHistory() {
  const list = $('history-list');
  if (!list) return;
  list.replaceChildren();
  for (const c of history.items) {
    const current = chat.conversationId === c.id;
    const open = el('button', {
      type: 'button', class: 'history-open', 'data-testid': 'history-item', 'aria-current': current ? 'true' : null,
      dataset: { id: String(c.id) },
    },
    el('span', { class: 'history-title' }, conversationTitle(c)),
    el('span', { class: 'history-meta' }, fmtDate(c.updated_at) + ' · ' + t('history.turns', { n: c.turns })));
    open.addEventListener('click', () => openConversation(c.id));
    const remove = el('button', {
      type: 'button', class: 'icon-button history-delete', 'data-testid': 'history-delete',
      'aria-label': t('history.delete', { title: conversationTitle(c) }), title: t('common.delete'),
    }, '×');
    remove.addEventListener('click', () => deleteConversation(c));
    list.append(el('li', { class: current ? 'history-item current' : 'history-item' }, open, remove));
  }
  let status = '';
  if (history.error) status = history.error;
  else if (history.loading && !history.items.length) status = t('history.loading');
  else if (!history.items.length) status = state.kb ? t('history.empty') : '';
  $('history-status').textContent = status;
  $('history-status').className = history.error ? 'error-text small-text' : 'hint small-text';
  $('history-more').hidden = !history.cursor;
  $('history-more').disabled = history.loading;
}

/** Reopens conversation `id` in the chat: its turns, answered, with their feedback; asking continues it. */
export async function openConversation(id) {
  let body;
  try {
    body = await apiJSON(conversationPath(id));
  } catch (e) {
    toast(e.message);
    return;
  }
  const c = body && body.conversation;
  if (!c) return;
  if (c.kb && c.kb !== state.kb) selectKb(c.kb, true);
  newConversation();
  chat.kb = c.kb;
  chat.conversationId = c.id;
  chat.turns = (Array.isArray(body.turns) ? body.turns : []).map((s) => turnFromStored(s, c.kb));
  showConversation();
  setHistoryOpen(false);
  renderHistory();
  if (location.hash !== '#/chat') location.hash = '#/chat';
}

async function deleteConversation(c) {
  if (!(await confirmAction(t('history.confirmDelete', { title: conversationTitle(c) })))) return;
  try {
    await apiJSON(conversationPath(c.id), { method: 'DELETE' });
  } catch (e) {
    toast(e.message);
    return;
  }
  if (chat.conversationId === c.id) newConversation();
  history.items = history.items.filter((x) => x.id !== c.id);
  renderHistory();
  toast(t('history.deleted'));
}

/** Shows or hides the sidebar on narrow screens (on wide ones it is always shown). */
export function setHistoryOpen(open) {
  $('history').classList.toggle('open', open);
  $('history-toggle').setAttribute('aria-expanded', open ? 'true' : 'false');
}

export function setupHistory() {
  $('history-refresh').addEventListener('click', () => loadHistory(false));
  $('history-more').addEventListener('click', () => loadHistory(true));
  $('history-toggle').addEventListener('click', () => {
    setHistoryOpen($('history-toggle').getAttribute('aria-expanded') !== 'true');
  });
}

// Wendao (问道) web UI: the knowledge bases — the list shared by the chat and search selects, the
// choice of one (remembered in this browser), and the knowledge bases view (create, delete).

import { t, fmtNumber, fmtDate } from './i18n.js';
import { $, el, toast, showError, confirmAction, labelCells } from './dom.js';
import { storage, LS_KB } from './settings.js';
import { apiJSON, kbPath, getSession } from './api.js';
import { docsRoute, settingsRoute } from './routes.js';
import { state, chat } from './state.js';
import { newConversation, renderChatNotice } from './chat.js';
import { loadHistory } from './history.js';

/** Loads the knowledge bases (the chat and search selects, the table); keeps the chosen one if it is still there. */
export async function loadKbs() {
  try {
    const body = await apiJSON('/api/v1/kbs');
    state.kbs = Array.isArray(body && body.knowledge_bases) ? body.knowledge_bases : [];
    state.kbsError = '';
  } catch (e) {
    state.kbsError = e.message;
    if (!state.kbs) state.kbs = [];
  }
  if (state.kbs.length && !state.kbs.some((k) => k.name === state.kb)) selectKb(defaultKb(state.kbs), true);
  if (!state.kbs.length) selectKb('', true);
  renderKbSelects();
  renderKbTable();
  renderChatNotice();
}

/**
 * The knowledge base a browser that remembers none (or one since deleted) starts with: the one with
 * the most documents, the first by name among equals.
 */
export function defaultKb(kbs) {
  let best = null;
  for (const kb of kbs || []) {
    const n = Number(kb.documents) || 0;
    if (!best || n > best.n || (n === best.n && kb.name < best.name)) best = { name: kb.name, n };
  }
  return best ? best.name : '';
}

/**
 * Whether to offer the settings page of knowledge base `name`: to a key holder (the server decides),
 * a server administrator, or an account with the administrator role on it — never to an agent.
 */
export function mayConfigure(session, name) {
  if (!session || !session.user) return true;
  if (session.user.administrator) return true;
  return (session.user.roles || []).some((r) => r.kb === name && r.role === 'administrator');
}

export function renderKbSelects() {
  for (const id of ['kb-select', 'search-kb', 'playground-kb', 'evals-ratings-kb']) {
    const select = $(id);
    select.replaceChildren();
    if (!state.kbs || !state.kbs.length) {
      select.append(el('option', { value: '' }, t('chat.noKbOption')));
      select.disabled = true;
      continue;
    }
    select.disabled = false;
    for (const kb of state.kbs) select.append(el('option', { value: kb.name }, kb.name));
    select.value = state.kb;
  }
}

export function selectKb(name, quiet) {
  if (name === state.kb) return;
  state.kb = name;
  if (name) storage.set('localStorage', LS_KB, name);
  for (const id of ['kb-select', 'search-kb']) if ($(id).value !== name) $(id).value = name;
  if (chat.turns.length && chat.kb && chat.kb !== name) {
    newConversation();
    if (!quiet) toast(t('chat.newStarted'));
  }
  loadHistory(false);
}

// ----- Knowledge bases view -----

export function renderKbTable() {
  const tbody = $('kbs-table').tBodies[0];
  tbody.replaceChildren();
  showError($('kbs-error'), state.kbsError);
  const kbs = state.kbs || [];
  $('kbs-empty').hidden = kbs.length > 0 || !!state.kbsError || state.kbs === null;
  for (const kb of kbs) {
    const docsLink = el('a', { href: docsRoute(kb.name), class: 'kb-name' }, kb.name);
    const askButton = el('button', { type: 'button', class: 'ghost small' }, t('kbs.ask'));
    askButton.addEventListener('click', () => { selectKb(kb.name); location.hash = '#/chat'; });
    const del = el('button', { type: 'button', class: 'danger-ghost small', 'aria-label': t('kbs.deleteLabel', { name: kb.name }) }, t('kbs.delete'));
    del.addEventListener('click', () => deleteKb(kb));
    tbody.append(el('tr', { dataset: { kb: kb.name } },
      el('th', { scope: 'row' }, docsLink),
      el('td', { class: 'num' }, fmtNumber(kb.documents)),
      el('td', { class: 'num' }, fmtNumber(kb.chunks)),
      el('td', { class: kb.model ? 'mono' : 'muted' }, kb.model || t('kbs.noModel')),
      el('td', null, fmtDate(kb.created_at)),
      el('td', { class: 'actions' },
        el('a', { href: docsRoute(kb.name), class: 'button ghost small' }, t('kbs.documents')),
        mayConfigure(getSession(), kb.name) ? el('a', { href: settingsRoute(kb.name), class: 'button ghost small' }, t('kbs.settings')) : null,
        askButton, del)));
  }
  labelCells($('kbs-table'));
}

async function deleteKb(kb) {
  const ok = await confirmAction(t('kbs.confirmDelete', { name: kb.name, documents: fmtNumber(kb.documents), chunks: fmtNumber(kb.chunks) }));
  if (!ok) return;
  try {
    await apiJSON(kbPath(kb.name), { method: 'DELETE' });
    toast(t('kbs.deleted', { name: kb.name }));
    if (state.kb === kb.name) { state.kb = ''; storage.remove('localStorage', LS_KB); }
    await loadKbs();
  } catch (e) {
    showError($('kbs-error'), adminError(e));
  }
}

/** Admin-only routes answer 404 to other keys: say what that means. */
export function adminError(e) {
  return e && e.status === 404 && e.code === 'not_found' && /route/i.test(e.detail || e.message)
    ? t('kbs.needAdmin') : (e && e.message) || String(e);
}

export function setupKbs() {
  $('kb-create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('kb-name').value.trim();
    const model = $('kb-model').value.trim();
    showError($('kb-create-error'), '');
    if (!name) { showError($('kb-create-error'), t('kbs.nameRequired')); $('kb-name').focus(); return; }
    const body = { name };
    if (model) body.model = model;
    $('kb-create').disabled = true;
    try {
      const kb = await apiJSON('/api/v1/kbs', { method: 'POST', json: body });
      $('kb-name').value = '';
      $('kb-model').value = '';
      toast(t('kbs.created', { name: (kb && kb.name) || name }));
      await loadKbs();
    } catch (err) {
      showError($('kb-create-error'), adminError(err));
    } finally {
      $('kb-create').disabled = false;
    }
  });
  $('kbs-refresh').addEventListener('click', () => loadKbs());
}

// Wendao (问道) web UI: the administrator's page — API keys (create, list, revoke; a new key shown
// once), accounts (create with a role on knowledge bases, list, delete) and share links with the
// website widget's snippet. Other callers get 404
// from these routes, which the page explains (adminError).

import { t, fmtDate } from './i18n.js';
import { $, el, toast, showError, confirmAction, labelCells } from './dom.js';
import { apiJSON, kbPath } from './api.js';
import { state } from './state.js';
import { adminError } from './kbs.js';

const admin = { keys: null, users: null, shares: null, shareKb: '', providers: null };

/** A user's roles as one line: "客服知识库: agent, 售后: editor", or "server administrator". */
export function rolesLine(user) {
  if (user.administrator) return t('admin.users.everything');
  return (user.roles || []).map((r) => `${r.kb}: ${t('role.' + r.role)}`).join(', ');
}

/** The request body for a new account from the form's values. */
export function userBody(name, password, kbs, role) {
  const body = { name, password };
  if (role === 'server-admin') body.administrator = true;
  else body.roles = Object.fromEntries(kbs.map((k) => [k, role]));
  return body;
}

function selected(select) {
  return Array.from(select.selectedOptions, (o) => o.value);
}

function fillKbSelects() {
  for (const id of ['newkey-kbs', 'newuser-kbs']) {
    const select = $(id);
    const chosen = new Set(selected(select));
    select.replaceChildren(...(state.kbs || []).map((kb) =>
      el('option', { value: kb.name, selected: chosen.has(kb.name) }, kb.name)));
  }
}

/** The origins typed one per line (or separated by spaces or commas), blanks dropped. */
export function originList(text) {
  return String(text || '').split(/[\s,]+/).map((o) => o.trim()).filter(Boolean);
}

/** The widget's script tag for a new link, with the server's origin as people reach it. */
export function widgetSnippet(origin, created) {
  return `<script src="${origin}${created.widget_path}" data-wendao-share="${created.token}" async></script>`;
}

async function loadShares() {
  const select = $('share-kb');
  const names = (state.kbs || []).map((k) => k.name);
  if (!names.includes(admin.shareKb)) admin.shareKb = names.includes(state.kb) ? state.kb : names[0] || '';
  select.replaceChildren(...names.map((n) => el('option', { value: n, selected: n === admin.shareKb }, n)));
  admin.shares = [];
  if (admin.shareKb) {
    try {
      const body = await apiJSON(kbPath(admin.shareKb) + '/shares');
      admin.shares = (body && body.shares) || [];
    } catch (e) {
      showError($('admin-error'), adminError(e));
    }
  }
  renderShares();
}

function renderShares() {
  const tbody = $('shares-table').tBodies[0];
  tbody.replaceChildren();
  $('shares-empty').hidden = (admin.shares || []).length > 0;
  for (const sh of admin.shares || []) {
    const revoke = el('button', { type: 'button', class: 'danger-ghost small' }, t('admin.shares.revoke'));
    revoke.addEventListener('click', async () => {
      if (!(await confirmAction(t('admin.shares.confirmRevoke', { name: sh.name }), t('admin.shares.revoke')))) return;
      try {
        await apiJSON(kbPath(admin.shareKb) + '/shares/' + encodeURIComponent(String(sh.id)), { method: 'DELETE' });
      } catch (e) {
        showError($('admin-error'), adminError(e));
      }
      await loadShares();
    });
    tbody.append(el('tr', { dataset: { shareId: String(sh.id) } },
      el('th', { scope: 'row' }, sh.name, ' ', el('span', { class: 'mono muted' }, sh.prefix + '…')),
      el('td', null, (sh.allowed_origins || []).join(' ') || t('common.none')),
      el('td', { class: 'num' }, String(sh.per_minute)),
      el('td', null, sh.revoked_at ? t('admin.keys.revoked') : t('admin.shares.active')),
      el('td', { class: 'actions' }, sh.revoked_at ? null : revoke)));
  }
  labelCells($('shares-table'));
}

/** A provider's key status in words: where the key comes from, or that it is missing. */
export function keyStatus(p) {
  switch (p.key_status) {
    case 'environment': return t('admin.providers.env', { name: p.key_variable || '' });
    case 'config.yaml': return t('admin.providers.config');
    case 'stored': return t('admin.providers.stored');
    default: return p.requires_key ? t('admin.providers.missing') : t('admin.providers.none');
  }
}

/** `provider:model` choices for the model pickers: the example models of providers with a key. */
export function modelChoices(providers) {
  const out = [];
  for (const p of providers || []) {
    if (p.key_status === 'missing' && p.requires_key) continue;
    for (const m of p.example_models || []) out.push(`${p.name}:${m}`);
  }
  return out;
}

async function loadProviders() {
  try {
    const body = await apiJSON('/api/v1/providers');
    admin.providers = (body && body.providers) || [];
  } catch (e) {
    admin.providers = [];
  }
  renderProviders();
}

function renderProviders() {
  const tbody = $('providers-table').tBodies[0];
  tbody.replaceChildren();
  for (const p of admin.providers || []) {
    const input = el('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', class: 'provider-key',
      'aria-label': t('admin.providers.enter', { name: p.display_name }), placeholder: t('admin.providers.placeholder') });
    const save = el('button', { type: 'button', class: 'secondary small' }, t('kbset.save'));
    save.addEventListener('click', async () => {
      const key = input.value.trim();
      if (!key) { input.focus(); return; }
      try {
        await apiJSON('/api/v1/providers/' + encodeURIComponent(p.name) + '/key', { method: 'PUT', json: { key } });
        input.value = '';
        toast(t('admin.providers.saved', { name: p.display_name }));
      } catch (e) {
        showError($('admin-error'), adminError(e));
      }
      await loadProviders();
    });
    const actions = [input, save];
    if (p.key_status === 'stored') {
      const remove = el('button', { type: 'button', class: 'danger-ghost small' }, t('admin.users.delete'));
      remove.addEventListener('click', async () => {
        try {
          await apiJSON('/api/v1/providers/' + encodeURIComponent(p.name) + '/key', { method: 'DELETE' });
        } catch (e) {
          showError($('admin-error'), adminError(e));
        }
        await loadProviders();
      });
      actions.push(remove);
    }
    tbody.append(el('tr', { dataset: { provider: p.name } },
      el('th', { scope: 'row' }, p.display_name, ' ', el('span', { class: 'mono muted' }, p.name)),
      el('td', { class: p.key_status === 'missing' && p.requires_key ? 'muted' : '' }, keyStatus(p)),
      el('td', { class: 'mono small-text' }, (p.example_models || []).slice(0, 3).join(' ')),
      el('td', { class: 'actions' }, ...actions)));
  }
  labelCells($('providers-table'));
}

export async function loadAdmin() {
  showError($('admin-error'), '');
  fillKbSelects();
  try {
    const [keys, users] = await Promise.all([apiJSON('/api/v1/keys'), apiJSON('/api/v1/users')]);
    admin.keys = (keys && keys.keys) || [];
    admin.users = (users && users.users) || [];
  } catch (e) {
    admin.keys = [];
    admin.users = [];
    showError($('admin-error'), adminError(e));
  }
  renderAdmin();
  await Promise.all([loadShares(), loadProviders()]);
}

export function renderAdmin() {
  if (state.view !== 'admin') return;
  fillKbSelects();
  const keys = $('keys-table').tBodies[0];
  keys.replaceChildren();
  for (const k of admin.keys || []) {
    const revoke = el('button', { type: 'button', class: 'danger-ghost small' }, t('admin.keys.revoke'));
    revoke.addEventListener('click', () => revokeKey(k));
    keys.append(el('tr', { dataset: { keyId: String(k.id) } },
      el('th', { scope: 'row' }, k.name),
      el('td', { class: 'mono' }, k.prefix + '…'),
      el('td', null, k.scope),
      el('td', null, (k.knowledge_bases || []).join(', ')),
      el('td', null, k.revoked_at ? t('admin.keys.revoked') : k.last_used_at ? fmtDate(k.last_used_at) : t('admin.keys.never')),
      el('td', { class: 'actions' }, k.revoked_at ? null : revoke)));
  }
  labelCells($('keys-table'));
  const users = $('users-table').tBodies[0];
  users.replaceChildren();
  for (const u of admin.users || []) {
    const del = el('button', { type: 'button', class: 'danger-ghost small' }, t('admin.users.delete'));
    del.addEventListener('click', () => deleteUser(u));
    users.append(el('tr', { dataset: { userId: String(u.id) } },
      el('th', { scope: 'row' }, u.name),
      el('td', null, rolesLine(u)),
      el('td', null, u.last_login_at ? fmtDate(u.last_login_at) : t('admin.keys.never')),
      el('td', { class: 'actions' }, del)));
  }
  labelCells($('users-table'));
}

async function revokeKey(k) {
  if (!(await confirmAction(t('admin.keys.confirmRevoke', { name: k.name, prefix: k.prefix }), t('admin.keys.revoke')))) return;
  try {
    await apiJSON('/api/v1/keys/' + encodeURIComponent(String(k.id)), { method: 'DELETE' });
  } catch (e) {
    showError($('admin-error'), adminError(e));
  }
  await loadAdmin();
}

async function deleteUser(u) {
  if (!(await confirmAction(t('admin.users.confirmDelete', { name: u.name })))) return;
  try {
    await apiJSON('/api/v1/users/' + encodeURIComponent(String(u.id)), { method: 'DELETE' });
  } catch (e) {
    showError($('admin-error'), adminError(e));
  }
  await loadAdmin();
}

export function setupAdmin() {
  $('admin-refresh').addEventListener('click', () => loadAdmin());
  $('share-kb').addEventListener('change', () => { admin.shareKb = $('share-kb').value; $('share-shown').hidden = true; loadShares(); });
  $('share-create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    showError($('admin-error'), '');
    $('share-shown').hidden = true;
    if (!admin.shareKb) { showError($('admin-error'), t('admin.keys.needKb')); return; }
    const body = { allowed_origins: originList($('share-origins').value), per_minute: Number($('share-rate').value) || 20 };
    try {
      const created = await apiJSON(kbPath(admin.shareKb) + '/shares', { method: 'POST', json: body });
      $('share-url').textContent = location.origin + created.url_path;
      $('share-snippet').textContent = widgetSnippet(location.origin, created);
      $('share-shown').hidden = false;
      await loadShares();
    } catch (err) {
      showError($('admin-error'), adminError(err));
    }
  });
  $('key-create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    showError($('admin-error'), '');
    $('newkey-shown').hidden = true;
    const kbs = selected($('newkey-kbs'));
    if (!kbs.length) { showError($('admin-error'), t('admin.keys.needKb')); return; }
    const body = { knowledge_bases: kbs, scope: $('newkey-scope').value };
    const name = $('newkey-name').value.trim();
    if (name) body.name = name;
    try {
      const created = await apiJSON('/api/v1/keys', { method: 'POST', json: body });
      $('newkey-value').textContent = created.key;
      $('newkey-shown').hidden = false;
      $('newkey-name').value = '';
      await loadAdmin();
    } catch (err) {
      showError($('admin-error'), adminError(err));
    }
  });
  $('user-create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    showError($('admin-error'), '');
    const name = $('newuser-name').value.trim();
    const password = $('newuser-password').value;
    const role = $('newuser-role').value;
    const kbs = selected($('newuser-kbs'));
    if (!name || password.length < 10) { showError($('admin-error'), t('admin.users.needFields')); return; }
    if (role !== 'server-admin' && !kbs.length) { showError($('admin-error'), t('admin.keys.needKb')); return; }
    try {
      await apiJSON('/api/v1/users', { method: 'POST', json: userBody(name, password, kbs, role) });
      $('newuser-name').value = '';
      $('newuser-password').value = '';
      toast(t('admin.users.created', { name }));
      await loadAdmin();
    } catch (err) {
      showError($('admin-error'), adminError(err));
    }
  });
}

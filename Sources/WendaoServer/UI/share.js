// Wendao (问道) web UI: the public chat of a share link (/s/TOKEN), also shown inside the website
// widget's frame. It reaches one route, the link's own `POST /api/v1/shared/TOKEN/ask`; it keeps no
// key, reads no cookie and listens to no message from the page that embeds it.

import { t, setLang, serverMessage } from './i18n.js';
import { initialLang } from './settings.js';

const $ = (id) => document.getElementById(id);

/** The token of this page's link: the last segment of /s/TOKEN, or '' when the path is not one. */
export function shareToken(pathname) {
  const m = /^\/s\/(wds_[A-Za-z0-9_-]{20,76})$/.exec(pathname || '');
  return m ? m[1] : '';
}

/** A citation as one line: "价格说明.md › 二、运费 · p. 3". */
export function sourceLine(c) {
  const parts = [c.document, c.section].filter(Boolean).join(' › ');
  return c.page ? `${parts} · ${t('share.page', { page: c.page })}` : parts;
}

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

const history = [];

async function ask(token, question) {
  const log = $('share-log');
  log.append(node('li', 'msg user', question));
  const pending = node('li', 'msg assistant pending', t('share.thinking'));
  log.append(pending);
  pending.scrollIntoView({ block: 'end' });
  $('share-ask').disabled = true;
  try {
    const res = await fetch('/api/v1/shared/' + encodeURIComponent(token) + '/ask', {
      method: 'POST', credentials: 'omit', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ question, history: history.slice(-6) }),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const err = body && body.error;
      pending.textContent = err ? serverMessage(err.code, err.message) : t('error.http', { status: res.status });
      pending.className = 'msg assistant error-text';
      return;
    }
    pending.className = 'msg assistant' + (body.found ? '' : ' not-found');
    pending.textContent = '';
    pending.append(node('div', 'answer-body', body.found ? body.answer : t('share.notFound')));
    if (body.found && Array.isArray(body.citations) && body.citations.length) {
      const list = node('ol', 'share-sources');
      for (const c of body.citations) {
        const item = node('li', null);
        const details = node('details', null);
        details.append(node('summary', null, `[${c.n}] ${sourceLine(c)}`), node('p', 'hit-text', c.text));
        item.append(details);
        list.append(item);
      }
      pending.append(node('p', 'hint small-text', t('share.sources')), list);
    }
    history.push({ role: 'user', content: question }, { role: 'assistant', content: body.answer });
  } catch (e) {
    pending.textContent = t('error.network', { error: (e && e.message) || String(e) });
    pending.className = 'msg assistant error-text';
  } finally {
    $('share-ask').disabled = false;
    pending.scrollIntoView({ block: 'end' });
  }
}

async function init() {
  setLang(initialLang());
  document.documentElement.lang = t('share.htmlLang');
  for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
  for (const n of document.querySelectorAll('[data-i18n-placeholder]')) n.setAttribute('placeholder', t(n.dataset.i18nPlaceholder));
  const token = shareToken(location.pathname);
  if (!token) { $('share-error').textContent = t('share.gone'); $('share-error').hidden = false; return; }
  try {
    const res = await fetch('/api/v1/shared/' + encodeURIComponent(token), { credentials: 'omit', cache: 'no-store' });
    if (!res.ok) throw new Error(String(res.status));
    const info = await res.json();
    $('share-title').textContent = info.knowledge_base;
    document.title = info.knowledge_base + ' · ' + t('app.title');
  } catch (e) {
    $('share-error').textContent = t('share.gone');
    $('share-error').hidden = false;
    $('share-form').hidden = true;
    return;
  }
  $('share-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('share-question').value.trim();
    if (!q) return;
    $('share-question').value = '';
    ask(token, q);
  });
  $('share-question').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('share-form').requestSubmit(); }
  });
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}

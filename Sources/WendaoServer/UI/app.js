// Wendao (问道) web UI: the entry module (loaded by index.html as <script type="module">). Plain
// ES2020 modules, no framework, no build step; runs under the server's strict Content-Security-
// Policy (no inline script or style, no eval). Every piece of text that comes from the server or a
// model is put into the page as text nodes, never as HTML (see dom.js).
//
// Modules: i18n (strings, formatting), settings (what the browser remembers), dom (helpers,
// dialogs), api (REST client, API key), sse (event streams), routes, state, answer (a turn as
// data, warnings), citations (text helpers, source panel), conversations (kept conversations as
// data), chat, history (the sidebar), log (supervisors), kbs, documents, search, inspect (the
// model page), evals (the Evaluations page and the prompt playground), tune (the
// fine-tuning data review). The
// modules without DOM access are tested under `node --test` (Tests/ui/).

import { t, getLang, setLang } from './i18n.js';
import { storage, LS_LANG, initialLang } from './settings.js';
import { $, setupConfirmDialog } from './dom.js';
import { setupKeyDialog, loadSession, getSession } from './api.js';
import { parseRoute } from './routes.js';
import { state, chat } from './state.js';
import { panel } from './citations.js';
import { renderChatNotice, renderTurn, setupChat } from './chat.js';
import { loadKbs, renderKbSelects, renderKbTable, setupKbs } from './kbs.js';
import { showDocs, renderDocsView, setupDocs } from './documents.js';
import { showDocument, renderDocument, renderCurated, setupDocPage } from './docpage.js';
import { renderSearch, setupSearch } from './search.js';
import { loadAdmin, renderAdmin, setupAdmin } from './admin.js';
import { showSettings, setupSettings } from './kbsettings.js';
import { loadHistory, renderHistory, setupHistory } from './history.js';
import { loadLog, renderLog, setupLog } from './log.js';
import { loadInspect, setupInspect } from './inspect.js';
import { loadImages, renderImages, setupImages } from './images.js';
import { loadEvals, renderRuns, setupEvals } from './evals.js';
import { loadTune, renderTune, setupTune } from './tune.js';

// ----- Language -----

function applyLang() {
  const lang = getLang();
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll('[data-i18n-placeholder]')) node.setAttribute('placeholder', t(node.dataset.i18nPlaceholder));
  for (const node of document.querySelectorAll('[data-i18n-aria-label]')) node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel));
  for (const node of document.querySelectorAll('[data-i18n-title]')) node.setAttribute('title', t(node.dataset.i18nTitle));
  const toggle = $('lang-toggle');
  toggle.textContent = t('lang.other');
  toggle.setAttribute('lang', lang === 'zh' ? 'en' : 'zh');
  toggle.setAttribute('aria-label', t('lang.switch'));
  toggle.title = t('lang.switch');
  // Dynamic content.
  renderKbSelects();
  renderKbTable();
  renderChatNotice();
  for (const turn of chat.turns) renderTurn(turn);
  if (panel.turn) $('source-title').textContent = t('source.title', { n: panel.n });
  renderDocsView();
  renderCurated();
  if (state.view === 'doc') renderDocument();
  renderSearch();
  renderAdmin();
  renderHistory();
  renderLog();
  renderImages();
  renderRuns();
  renderTune();
  updateTitle();
  const session = getSession();
  if (session) $('user-badge').textContent = t('signin.as', { name: session.user.name });
}

function setupLang() {
  setLang(initialLang());
  $('lang-toggle').addEventListener('click', () => {
    setLang(getLang() === 'zh' ? 'en' : 'zh');
    storage.set('localStorage', LS_LANG, getLang());
    applyLang();
  });
}

// ----- Routing: #/chat, #/kbs, #/docs/NAME, #/settings/NAME, #/search, #/log, #/admin (routes.js) -----

function updateTitle() {
  if (state.view === 'doc') return; // the document page names itself (docpage.js)
  const names = { chat: 'nav.chat', kbs: 'nav.kbs', docs: 'nav.kbs', settings: 'nav.kbs', search: 'nav.search', log: 'nav.log', admin: 'nav.admin', model: 'nav.model', images: 'nav.images', tryon: 'nav.tryon', evals: 'nav.evals', playground: 'nav.playground', tune: 'nav.tune' };
  const page = state.view === 'docs' && state.docsKb ? state.docsKb : t(names[state.view] || 'nav.chat');
  document.title = page + ' · ' + t('app.title');
}

function route(initial) {
  let r = parseRoute(location.hash);
  if (r.anchor) {
    if (state.view) return; // an in-page anchor such as the skip link: stay on the page shown
    r = parseRoute('#/chat');
  }
  if (r.redirect) { location.replace(r.redirect); return; }
  const view = r.view;
  const previous = state.view;
  state.view = view;
  for (const section of document.querySelectorAll('.view')) section.hidden = section.dataset.view !== view;
  for (const link of document.querySelectorAll('.mainnav a')) {
    const current = link.dataset.route === view || ((view === 'docs' || view === 'doc' || view === 'settings') && link.dataset.route === 'kbs');
    if (current) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  if (view === 'docs') showDocs(r.kb);
  if (view === 'doc') showDocument(r.kb, r.doc);
  if (view === 'settings') showSettings(r.kb);
  if (view === 'kbs' && !initial) loadKbs();
  if (view === 'admin') loadAdmin();
  if (view === 'log') loadLog(false);
  if (view === 'model') loadInspect();
  if (view === 'images') loadImages();
  if (view === 'evals') loadEvals();
  if (view === 'tune') loadTune();
  updateTitle();
  if (!initial && previous !== view) {
    const heading = document.querySelector('[data-view="' + view + '"] h1');
    if (heading) heading.focus({ preventScroll: false });
  }
}

// ----- Start -----

function init() {
  setupLang();
  setupKeyDialog();
  setupConfirmDialog();
  setupChat();
  setupKbs();
  setupDocs();
  setupDocPage();
  setupSearch();
  setupAdmin();
  setupSettings();
  setupHistory();
  setupLog();
  setupInspect();
  setupImages();
  setupEvals();
  setupTune();
  applyLang();
  window.addEventListener('hashchange', () => route(false));
  route(true);
  // A signed-in account (an earlier sign-in's cookie) is known before the knowledge bases load,
  // so the first request carries its CSRF token and nobody is asked for a key needlessly.
  loadSession().then(() => loadKbs()).then(() => { renderLog(); loadHistory(false); });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();

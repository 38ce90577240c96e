// Wendao (问道) web UI: the chat view. Asks the chosen knowledge base — continuing the conversation
// the server keeps (its id), reads the streamed answer (SSE) into a turn (answer.js) and renders
// each turn with its citation badges, status, warnings, sources, usage and feedback (thumbs up or
// down with a note).

import { t } from './i18n.js';
import { $, el, toast } from './dom.js';
import { storage, LS_MODEL } from './settings.js';
import { apiFetch, apiJSON, kbPath } from './api.js';
import { readEventStream } from './sse.js';
import { splitAnswer, stripMarkers, lookupCitation, citationLabel, sourceRefLabel, panel, openSourcePanel, closeSourcePanel }
  from './citations.js';
import { newTurn, applyAskEvent, applyAnswer, warningItems, usageLine } from './answer.js';
import { state, chat } from './state.js';
import { selectKb } from './kbs.js';
import { feedbackPath, feedbackBody, applyFeedback, MAX_NOTE } from './conversations.js';
import { loadHistory, renderHistory } from './history.js';
import { canCorrect, correctionTarget } from './editing.js';
import { openCuratedDialog } from './docpage.js';

export function renderChatNotice() {
  const notice = $('chat-notice');
  if (state.kbsError) {
    notice.textContent = state.kbsError;
    notice.className = 'error-box';
  } else if (state.kbs && !state.kbs.length) {
    notice.textContent = t('chat.noKbs');
    notice.className = 'hint';
  } else {
    notice.textContent = t('chat.empty');
    notice.className = 'hint';
  }
  notice.hidden = chat.turns.length > 0 && !state.kbsError;
}

export function newConversation() {
  if (chat.controller) chat.controller.abort();
  chat.turns = [];
  chat.kb = '';
  chat.conversationId = null;
  $('conversation').replaceChildren();
  closeSourcePanel(false);
  renderChatNotice();
  renderHistory();
}

/** Shows `chat.turns` anew (a conversation reopened from the history). */
export function showConversation() {
  $('conversation').replaceChildren();
  closeSourcePanel(false);
  for (const turn of chat.turns) {
    createTurnElements(turn);
    renderTurn(turn);
  }
  renderChatNotice();
  scrollToBottom(true);
}

function setBusy(busy) {
  chat.busy = busy;
  $('ask').disabled = busy;
  $('stop').hidden = !busy;
}

function historyFor() {
  const history = [];
  for (const turn of chat.turns) {
    if (turn.state !== 'done') continue;
    const answer = stripMarkers(turn.text || '');
    if (!answer) continue;
    history.push({ role: 'user', content: turn.question }, { role: 'assistant', content: answer });
  }
  return history.slice(-20);
}

async function ask() {
  const question = $('question').value.trim();
  const kb = state.kb;
  $('ask-error').textContent = '';
  if (chat.busy) return;
  if (!kb) { $('ask-error').textContent = t('chat.pickKb'); return; }
  if (!question) { $('ask-error').textContent = t('chat.typeQuestion'); $('question').focus(); return; }
  if (chat.kb && chat.kb !== kb) newConversation();
  chat.kb = kb;
  const model = $('model-input').value.trim();
  const history = historyFor();
  const turn = newTurn(question, kb);
  createTurnElements(turn);
  chat.turns.push(turn);
  renderChatNotice();
  $('question').value = '';
  renderTurn(turn);
  scrollToBottom(true);

  const controller = new AbortController();
  chat.controller = controller;
  setBusy(true);
  const body = { question, stream: true };
  // A conversation the server keeps is continued by its id (its stored turns are the history).
  if (chat.conversationId) body.conversation_id = chat.conversationId;
  else if (history.length) body.history = history;
  if (model) body.model = model;
  try {
    const res = await apiFetch(kbPath(kb) + '/ask', {
      method: 'POST', json: body, signal: controller.signal, headers: { Accept: 'text/event-stream' },
    });
    const type = (res.headers.get('Content-Type') || '').toLowerCase();
    if (type.includes('application/json')) {
      applyAnswer(turn, await res.json());
      turn.state = 'done';
    } else {
      await readEventStream(res, (ev) => handleAskEvent(turn, ev));
      if (turn.state === 'waiting' || turn.state === 'streaming') turn.state = 'interrupted';
    }
  } catch (e) {
    if (e && e.name === 'AbortError') turn.state = 'stopped';
    else { turn.state = 'error'; turn.error = (e && e.message) || String(e); }
  } finally {
    if (chat.controller === controller) chat.controller = null;
    setBusy(false);
    renderTurn(turn);
    scrollToBottom(false);
  }
  if (turn.conversationId && chat.turns.includes(turn)) {
    // Kept by the server: the next question continues it; the sidebar shows it first, counted anew.
    chat.conversationId = turn.conversationId;
    loadHistory(false);
  }
}

/** Handles one `ask` stream event; returns false to stop reading. */
function handleAskEvent(turn, ev) {
  const outcome = applyAskEvent(turn, ev);
  if (outcome !== 'ignored') scheduleRender(turn);
  return outcome !== 'stop';
}

function createTurnElements(turn) {
  const previous = $('answer');
  if (previous) { previous.removeAttribute('id'); previous.removeAttribute('data-testid'); }
  const els = {};
  els.meta = el('span', { class: 'msg-meta' });
  els.chip = el('p', { class: 'notfound-chip', hidden: true });
  els.body = el('div', {
    id: 'answer', 'data-testid': 'answer', class: 'answer-body', 'aria-live': 'polite', 'aria-busy': 'true',
  });
  els.status = el('p', { class: 'msg-status' });
  els.warnings = el('ul', { class: 'warnings', hidden: true });
  els.sources = el('div', { class: 'sources-list', hidden: true });
  els.usage = el('p', { class: 'usage', hidden: true });
  // "Correct": an editor writes the right answer, stored as a curated answer of the knowledge base.
  els.correct = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'correct' });
  els.correct.addEventListener('click', () => openCuratedDialog({ ...correctionTarget(turn), kb: turn.kb, turn }));
  els.actions = el('div', { class: 'msg-actions', hidden: true }, els.correct);
  els.assistantLabel = el('span', { class: 'msg-label' });
  els.userLabel = el('span', { class: 'msg-label' });
  els.assistant = el('article', { class: 'msg assistant' },
    el('header', { class: 'msg-head' }, els.assistantLabel, els.meta),
    els.chip, els.body, els.status, els.warnings, els.sources, els.usage, els.actions);
  els.user = el('div', { class: 'msg user' }, els.userLabel, el('p', { class: 'msg-text' }, turn.question));
  els.feedback = createFeedbackElements(turn);
  els.assistant.append(els.feedback);
  els.root = el('div', { class: 'turn' }, els.user, els.assistant);
  turn.els = els;
  $('conversation').append(els.root);
}

// ----- Feedback: thumbs up or down on a kept answer, with an optional note -----

function createFeedbackElements(turn) {
  const f = {};
  // Worded buttons (an emoji font may be missing): thumbs up is "helpful", thumbs down "not helpful".
  f.up = el('button', { type: 'button', class: 'feedback-button', 'data-testid': 'thumbs-up', 'aria-pressed': 'false' });
  f.down = el('button', { type: 'button', class: 'feedback-button', 'data-testid': 'thumbs-down', 'aria-pressed': 'false' });
  f.up.addEventListener('click', () => sendFeedback(turn, 'up', null));
  f.down.addEventListener('click', () => sendFeedback(turn, 'down', null));
  f.noteLabel = el('label', { class: 'visually-hidden' });
  f.note = el('textarea', { class: 'feedback-note', 'data-testid': 'feedback-note', rows: '2', maxlength: String(MAX_NOTE) });
  f.noteLabel.htmlFor = f.note.id = 'note-' + Math.random().toString(36).slice(2);
  f.save = el('button', { type: 'button', class: 'secondary small', 'data-testid': 'feedback-save' });
  f.save.addEventListener('click', () => sendFeedback(turn, turn.rating, f.note.value));
  f.form = el('div', { class: 'feedback-form', hidden: true }, f.noteLabel, f.note, f.save);
  f.status = el('span', { class: 'feedback-status hint small-text', 'data-testid': 'feedback-status', role: 'status' });
  // Where an editor's correction of this answer will be offered (curated answers, issue 15 part 2).
  f.correctionSlot = el('span', { class: 'turn-actions-extra', 'data-hook': 'correction' });
  f.row = el('div', { class: 'turn-actions', hidden: true }, f.up, f.down, f.status, f.correctionSlot);
  turn.feedbackEls = f;
  return el('div', { class: 'turn-feedback' }, f.row, f.form);
}

async function sendFeedback(turn, rating, note) {
  const f = turn.feedbackEls;
  if (!turn.conversationId || !turn.turnId || !f) return;
  const body = feedbackBody(rating, note === null ? turn.note : note);
  if (body.error) { f.status.textContent = t('feedback.tooLong', { n: MAX_NOTE }); return; }
  f.up.disabled = f.down.disabled = f.save.disabled = true;
  try {
    const stored = await apiJSON(feedbackPath(turn.conversationId, turn.turnId), { method: 'POST', json: body });
    applyFeedback(turn, stored && stored.feedback);
    turn.feedbackMessage = note === null ? t('feedback.saved') : t('feedback.noteSaved');
  } catch (e) {
    turn.feedbackMessage = t('feedback.failed', { error: e.message });
  } finally {
    f.up.disabled = f.down.disabled = f.save.disabled = false;
    renderFeedback(turn);
  }
  if (note === null) { f.form.hidden = false; f.note.focus(); }
}

function renderFeedback(turn) {
  const f = turn.feedbackEls;
  if (!f) return;
  f.row.hidden = !turn.turnId || !turn.conversationId || (turn.state !== 'done' && turn.state !== 'interrupted');
  f.up.setAttribute('aria-pressed', turn.rating === 'up' ? 'true' : 'false');
  f.down.setAttribute('aria-pressed', turn.rating === 'down' ? 'true' : 'false');
  f.up.textContent = t('feedback.up');
  f.down.textContent = t('feedback.down');
  f.noteLabel.textContent = t('feedback.noteLabel');
  f.note.setAttribute('placeholder', t('feedback.notePlaceholder'));
  if (!f.note.value && turn.note) f.note.value = turn.note;
  f.save.textContent = t('feedback.saveNote');
  f.status.textContent = turn.feedbackMessage || (turn.rating ? t('feedback.given.' + turn.rating) : '');
  if (f.row.hidden || !turn.rating) f.form.hidden = true;
}

function scheduleRender(turn) {
  if (turn.renderPending) return;
  turn.renderPending = true;
  const run = () => { turn.renderPending = false; const near = nearBottom(); renderTurn(turn); if (near) scrollToBottom(false); };
  if (typeof requestAnimationFrame === 'function' && document.visibilityState !== 'hidden') requestAnimationFrame(run);
  else setTimeout(run, 50);
}

function nearBottom() {
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
}
function scrollToBottom(force) {
  if (force || nearBottom()) window.scrollTo(0, document.documentElement.scrollHeight);
}

export function renderTurn(turn) {
  const els = turn.els;
  if (!els) return;
  els.userLabel.textContent = t('chat.you');
  els.assistantLabel.textContent = t('chat.assistant');
  const streaming = turn.state === 'waiting' || turn.state === 'streaming';
  els.assistant.dataset.state = turn.state;
  els.body.setAttribute('aria-busy', streaming ? 'true' : 'false');

  // Meta: how it was answered; the retrieval figures (coverage) only behind a details toggle.
  const meta = [];
  if (turn.mode === 'curated') meta.push(t('chat.mode.curated'));
  else if (turn.mode === 'extractive') meta.push(t('chat.mode.extractive'));
  else if (turn.model) {
    meta.push(t(turn.answeredBy === 'extractive' ? 'chat.mode.llmFallback' : 'chat.mode.llm', { model: turn.model }));
  }
  const tech = typeof turn.coverage === 'number' && turn.state === 'done' && turn.mode !== 'curated'
    ? el('details', { class: 'tech-details' }, el('summary', null, t('common.details')), t('chat.coverage', { value: turn.coverage.toFixed(2) }))
    : null;
  els.meta.replaceChildren(meta.join(' · '), ...(tech ? [' ', tech] : []));

  // Not found.
  const notFound = turn.found === false;
  els.assistant.classList.toggle('not-found', notFound);
  // The chip stands in for the answer only while the server's own not-found text has not arrived.
  els.chip.hidden = !notFound || Boolean(turn.text && turn.text.trim());
  els.chip.textContent = t('chat.notFound');

  // Answer text with citation badges.
  const nodes = [];
  for (const part of splitAnswer(turn.text)) {
    if (part.type === 'text') { nodes.push(document.createTextNode(part.value)); continue; }
    const c = lookupCitation(turn, part.n);
    if (!c) { nodes.push(document.createTextNode(part.value)); continue; }
    const label = citationLabel(c, part.n);
    const badge = el('button', {
      type: 'button', class: 'citation', 'data-testid': 'citation', 'aria-label': label, title: label,
      'aria-controls': 'source-panel', dataset: { n: String(part.n) },
    }, String(part.n));
    badge.addEventListener('click', () => openSourcePanel(turn, part.n, badge));
    if (panel.turn === turn && panel.n === part.n && !$('source-panel').hidden) {
      badge.classList.add('active');
      panel.badge = badge;
    }
    nodes.push(badge);
  }
  els.body.replaceChildren(...nodes);

  // Status line.
  let status = '';
  let statusClass = 'msg-status';
  if (turn.state === 'waiting') { status = t('chat.searching'); statusClass += ' working'; }
  else if (turn.state === 'streaming' && !turn.gotToken) { status = t('chat.writing'); statusClass += ' working'; }
  else if (turn.state === 'stopped') status = t('chat.stopped');
  else if (turn.state === 'interrupted') { status = t('chat.interrupted'); statusClass += ' error-text'; }
  else if (turn.state === 'error') { status = t('chat.failed', { error: turn.error }); statusClass += ' error-text'; }
  els.status.className = statusClass;
  els.status.textContent = status;
  els.status.hidden = !status;
  els.status.setAttribute('role', turn.state === 'error' || turn.state === 'interrupted' ? 'alert' : 'status');

  // Warnings: by code in the UI's language, else the server's words (see warningItems).
  const warnings = warningItems(turn);
  els.warnings.replaceChildren(...warnings.map((w) => el('li', null, w)));
  els.warnings.hidden = warnings.length === 0;
  els.warnings.setAttribute('aria-label', t('warn.title'));

  // Cited sources, listed under the answer.
  const cited = Array.from(turn.citations.values()).sort((a, b) => a.n - b.n);
  els.sources.replaceChildren();
  if (cited.length && !streaming) {
    els.sources.append(el('span', { class: 'sources-title' }, t('chat.sources')));
    for (const c of cited) {
      const ref = el('button', { type: 'button', class: 'source-ref', 'aria-controls': 'source-panel' },
        el('span', { class: 'source-ref-n' }, String(c.n)),
        el('span', { class: 'source-ref-label' }, sourceRefLabel(c)));
      ref.addEventListener('click', () => openSourcePanel(turn, c.n, ref));
      els.sources.append(ref);
    }
  }
  els.sources.hidden = els.sources.childNodes.length === 0;

  // Usage line.
  const usageText = usageLine(turn.usage);
  els.usage.textContent = usageText;
  els.usage.hidden = !usageText;

  renderFeedback(turn);
  // Actions.
  els.correct.textContent = t('curated.correct');
  els.correct.setAttribute('aria-label', t('curated.correctLabel', { question: turn.question }));
  els.actions.hidden = !canCorrect(turn);
}

export function setupChat() {
  $('ask-form').addEventListener('submit', (e) => { e.preventDefault(); ask(); });
  $('question').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      ask();
    }
  });
  $('stop').addEventListener('click', () => { if (chat.controller) chat.controller.abort(); });
  $('new-chat').addEventListener('click', () => { newConversation(); $('question').focus(); toast(t('chat.newStarted')); });
  $('kb-select').addEventListener('change', (e) => selectKb(e.target.value));
  $('model-input').value = storage.get('localStorage', LS_MODEL) || '';
  $('model-input').addEventListener('change', (e) => storage.set('localStorage', LS_MODEL, e.target.value.trim()));
  $('source-close').addEventListener('click', () => closeSourcePanel(true));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !$('source-panel').hidden && !$('key-dialog').open && !$('confirm-dialog').open) {
      closeSourcePanel(true);
    }
  });
}

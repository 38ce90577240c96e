// Wendao (问道) web UI: one question and its answer (a "turn") as data. What each event of the
// `ask` stream and the final Answer JSON change in a turn, which warnings it shows and its usage
// line. No DOM access: tested under `node --test`; chat.js renders a turn.

import { t, fmtNumber, serverMessage } from './i18n.js';
import { parseData } from './sse.js';
import { citationMap } from './citations.js';

/** A new turn for `question` asked of the knowledge base `kb`, waiting for the server. */
export function newTurn(question, kb) {
  return {
    question, kb, text: '', citations: new Map(), sources: new Map(), found: null, invalid: [],
    uncited: false, removedImages: 0, truncated: false, warnings: [], warningDetails: null, answered: false,
    usage: null, mode: '', model: '', answeredBy: '', coverage: null, state: 'waiting', error: '', gotToken: false, els: null,
    renderPending: false, conversationId: null, turnId: null, carried: '', rating: '', note: '',
  };
}

/**
 * Applies one event of the `ask` stream to `turn`. Returns 'ignored' for an event this page does not
 * know (nothing changed), 'stop' after an `error` event (stop reading), else 'continue'.
 */
export function applyAskEvent(turn, ev) {
  const data = parseData(ev);
  switch (ev.event) {
    case 'sources':
      if (data) turn.sources = citationMap(data.sources);
      turn.state = 'streaming';
      return 'continue';
    case 'token':
      if (data && typeof data.text === 'string') {
        turn.text += data.text;
        turn.gotToken = true;
      }
      turn.state = 'streaming';
      return 'continue';
    case 'citations':
      if (data) {
        turn.citations = citationMap(data.citations);
        if (Array.isArray(data.invalid_citations)) turn.invalid = data.invalid_citations;
        if (typeof data.found === 'boolean') turn.found = data.found;
      }
      return 'continue';
    case 'usage':
      if (data) turn.usage = data;
      return 'continue';
    case 'done':
      if (data) applyAnswer(turn, data);
      turn.state = 'done';
      return 'continue';
    case 'error': {
      const err = data && data.error;
      turn.state = 'error';
      turn.error = err && (err.code || err.message) ? serverMessage(err.code || 'internal', err.message) : t('error.badResponse');
      return 'stop';
    }
    default:
      return 'ignored';
  }
}

/** Takes the full Answer JSON (the `done` event, or a non-streamed answer). */
export function applyAnswer(turn, a) {
  if (!a || typeof a !== 'object') return;
  if (typeof a.answer === 'string') turn.text = a.answer;
  if (Array.isArray(a.citations)) turn.citations = citationMap(a.citations);
  if (Array.isArray(a.sources)) turn.sources = citationMap(a.sources);
  if (typeof a.found === 'boolean') turn.found = a.found;
  if (Array.isArray(a.invalid_citations)) turn.invalid = a.invalid_citations;
  turn.uncited = a.uncited === true;
  turn.removedImages = typeof a.removed_images === 'number' ? a.removed_images : 0;
  turn.truncated = a.truncated_context === true;
  turn.warnings = Array.isArray(a.warnings) ? a.warnings.filter((w) => typeof w === 'string') : [];
  turn.warningDetails = Array.isArray(a.warning_details) ? a.warning_details : null;
  turn.answered = true;
  if (a.usage && typeof a.usage === 'object') turn.usage = a.usage;
  turn.mode = typeof a.mode === 'string' ? a.mode : turn.mode;
  turn.model = typeof a.model === 'string' ? a.model : turn.model;
  // `extractive` when the answer guard replaced a small model's unsupported answer.
  turn.answeredBy = typeof a.answered_by === 'string' ? a.answered_by : turn.answeredBy;
  turn.coverage = typeof a.coverage === 'number' ? a.coverage : turn.coverage;
  // Where the server kept it (conversations): feedback is given on the turn.
  if (typeof a.conversation_id === 'number') turn.conversationId = a.conversation_id;
  if (typeof a.turn_id === 'number') turn.turnId = a.turn_id;
}

function invalidWarning(invalid) {
  return t('warn.invalid', { list: invalid.map((n) => '[' + n + ']').join(', ') });
}

/**
 * The text of one `warning_details` entry: the warnings the UI knows by code in its own words
 * (with the numbers from the answer's structured fields), any other code as the server's message.
 */
export function warningText(turn, detail) {
  const code = detail && typeof detail.code === 'string' ? detail.code : 'other';
  const message = detail && typeof detail.message === 'string' ? detail.message : '';
  const invalid = Array.isArray(turn.invalid) ? turn.invalid : [];
  switch (code) {
    case 'uncited': return t('warn.uncited');
    case 'invalid_citations': return invalid.length ? invalidWarning(invalid) : message;
    case 'removed_images': return turn.removedImages > 0 ? t('warn.images', { n: turn.removedImages }) : message;
    case 'context_truncated': return t('warn.truncated');
    default: return message; // empty_answer, length_limit, content_filter, other, and codes added later
  }
}

/**
 * The warnings shown under an answer. With `warning_details` (the server gives a code per
 * warning): one per entry, by code. From a server without them: its `warnings` as sent. Before
 * the final answer arrives: the citation markers the stream already reported as removed.
 */
export function warningItems(turn) {
  if (Array.isArray(turn.warningDetails)) return turn.warningDetails.map((d) => warningText(turn, d)).filter(Boolean);
  if (turn.answered) return turn.warnings.filter((w) => typeof w === 'string' && w);
  return Array.isArray(turn.invalid) && turn.invalid.length ? [invalidWarning(turn.invalid)] : [];
}

/** The usage line under an answer: tokens, cache, calls, cost, time, model. */
export function usageLine(u) {
  if (!u || typeof u !== 'object') return '';
  const parts = [];
  const num = (v) => (typeof v === 'number' && isFinite(v) ? v : null);
  const prompt = num(u.prompt_tokens);
  const completion = num(u.completion_tokens);
  if (prompt === null && completion === null) return '';
  const total = num(u.total_tokens) !== null ? u.total_tokens : (prompt || 0) + (completion || 0);
  parts.push(t('usage.tokens', { prompt: fmtNumber(prompt || 0), completion: fmtNumber(completion || 0), total: fmtNumber(total) }));
  if (num(u.cached_prompt_tokens)) parts.push(t('usage.cached', { n: fmtNumber(u.cached_prompt_tokens) }));
  if (u.estimated === true) parts.push(t('usage.estimated'));
  if (num(u.calls) !== null && u.calls > 1) parts.push(t('usage.calls', { n: u.calls }));
  if (num(u.cost) !== null) parts.push(t('usage.cost', { cost: u.cost, currency: typeof u.currency === 'string' ? u.currency : '' }).trim());
  if (num(u.seconds) !== null) parts.push(t('usage.seconds', { s: u.seconds.toFixed(1) }));
  if (typeof u.model === 'string' && u.model) parts.push(u.model);
  return parts.join(' · ');
}

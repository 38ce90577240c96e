// Wendao (问道) web UI: conversations kept by the server, as data — the list and export URLs with
// their filters, a stored turn made into a chat turn, feedback bodies, titles for the history list.
// No DOM access: tested under `node --test`; history.js and log.js render them.

import { newTurn, applyAnswer } from './answer.js';

export const CONVERSATIONS = '/api/v1/conversations';
/** Longest feedback note the server takes (characters). */
export const MAX_NOTE = 2000;

/** The path of conversation `id`. */
export function conversationPath(id) { return CONVERSATIONS + '/' + encodeURIComponent(String(id)); }

/** The path that stores feedback on turn `turnId` of conversation `id`. */
export function feedbackPath(id, turnId) {
  return conversationPath(id) + '/turns/' + encodeURIComponent(String(turnId)) + '/feedback';
}

/** A date input's value (YYYY-MM-DD) when it is one, else ''. */
export function dateValue(v) {
  return typeof v === 'string' && /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(v) ? v : '';
}

/**
 * The query string (with its '?', or '') for filters `{kb, from, to, notFound, thumbsDown}` and, for
 * the list, `{limit, cursor}`. Empty and false filters are left out; dates must be YYYY-MM-DD.
 */
export function conversationQuery(filters) {
  const f = filters || {};
  const params = new URLSearchParams();
  if (f.kb) params.set('kb', f.kb);
  if (dateValue(f.from)) params.set('from', f.from);
  if (dateValue(f.to)) params.set('to', f.to);
  if (f.notFound) params.set('not_found', 'true');
  if (f.thumbsDown) params.set('thumbs_down', 'true');
  if (Number.isInteger(f.limit) && f.limit >= 1 && f.limit <= 200) params.set('limit', String(f.limit));
  if (typeof f.cursor === 'string' && f.cursor) params.set('cursor', f.cursor);
  const s = params.toString();
  return s ? '?' + s : '';
}

/** The list URL for `filters`. */
export function listURL(filters) { return CONVERSATIONS + conversationQuery(filters); }

/** The CSV export URL for `filters` (paging left out). */
export function exportURL(filters) {
  const f = Object.assign({}, filters || {});
  delete f.limit;
  delete f.cursor;
  return CONVERSATIONS + '.csv' + conversationQuery(f);
}

/** A chat turn (answer.js) from a stored turn of conversation `kb`: answered, with its feedback. */
export function turnFromStored(stored, kb) {
  const turn = newTurn(String((stored && stored.question) || ''), kb);
  applyAnswer(turn, stored);
  turn.state = stored && stored.complete === false ? 'interrupted' : 'done';
  turn.turnId = stored && typeof stored.id === 'number' ? stored.id : null;
  turn.carried = stored && typeof stored.carried === 'string' ? stored.carried : '';
  applyFeedback(turn, stored && stored.feedback);
  return turn;
}

/** Takes a turn's stored feedback (`{rating, note}` or null). */
export function applyFeedback(turn, feedback) {
  if (feedback && (feedback.rating === 'up' || feedback.rating === 'down')) {
    turn.rating = feedback.rating;
    turn.note = typeof feedback.note === 'string' ? feedback.note : '';
  } else {
    turn.rating = '';
    turn.note = '';
  }
}

/**
 * The feedback body for `rating` ('up' or 'down') and a note (trimmed; blank is none). Returns
 * `{error: 'note_too_long'}` for a note over MAX_NOTE characters, `{error: 'rating'}` for another
 * rating.
 */
export function feedbackBody(rating, note) {
  if (rating !== 'up' && rating !== 'down') return { error: 'rating' };
  const text = typeof note === 'string' ? note.trim() : '';
  if ([...text].length > MAX_NOTE) return { error: 'note_too_long' };
  return text ? { rating, note: text } : { rating };
}

/** The title shown for a conversation in the history list (its stored title, else its id). */
export function conversationTitle(c) {
  const title = c && typeof c.title === 'string' ? c.title.trim() : '';
  return title || '#' + String((c && c.id) || '');
}

// Wendao (问道) web UI: the pure parts of the document page and of curated answers — what a
// correction starts from, how a chunk is labelled, which edits are refused before they are sent.
// No DOM access: tested under `node --test`.

import { stripMarkers } from './citations.js';

/** Longest chunk text the server accepts (characters). */
export const MAX_CHUNK_CHARS = 20000;
/** Longest curated question (characters). */
export const MAX_QUESTION_CHARS = 2000;

/** What the correction dialog opens with for a turn: its question and its answer without markers. */
export function correctionDraft(turn) {
  const question = turn && typeof turn.question === 'string' ? turn.question : '';
  const answer = turn && typeof turn.text === 'string' ? stripMarkers(turn.text) : '';
  return { question, answer };
}

/** Whether a turn can be corrected: answered, with a question, from a knowledge base. */
export function canCorrect(turn) {
  return Boolean(turn && turn.state === 'done' && turn.kb && typeof turn.question === 'string' && turn.question.trim());
}

/** The i18n keys of the badges of a chunk (edited, disabled). */
export function chunkBadges(chunk) {
  const badges = [];
  if (chunk && chunk.edited === true) badges.push('doc.edited');
  if (chunk && chunk.enabled === false) badges.push('doc.disabled');
  return badges;
}

/** The i18n key of the reason a chunk text cannot be saved, or '' when it can. */
export function chunkTextProblem(text) {
  const s = typeof text === 'string' ? text.trim() : '';
  if (!s) return 'doc.emptyText';
  if (Array.from(s).length > MAX_CHUNK_CHARS) return 'error.tooLong';
  return '';
}

/** Whether a citation is a curated answer (not a document chunk). */
export function isCurated(c) {
  return Boolean(c && c.kind === 'curated');
}

/** A curated entry's answer cut for the list (whole code points, an ellipsis when cut). */
export function preview(text, max) {
  const chars = Array.from(typeof text === 'string' ? text.replace(/\s+/g, ' ').trim() : '');
  return chars.length > max ? chars.slice(0, max).join('') + '…' : chars.join('');
}

/**
 * What "Correct" under an answer opens: for an answer that came from a curated answer, that entry
 * to edit (its id, question and answer from the curated citation); else a new correction.
 */
export function correctionTarget(turn) {
  const cited = turn && turn.citations instanceof Map ? Array.from(turn.citations.values()) : [];
  const c = cited.find((x) => isCurated(x) && typeof x.curated_id === 'number');
  if (turn && turn.mode === 'curated' && c) {
    return { mode: 'edit', entry: { id: c.curated_id, question: c.section || '', answer: c.text || '' } };
  }
  return { mode: 'correct' };
}

/** The PATCH body of an edited curated answer: the note only when it was changed. */
export function curatedPatch(entry, question, answer, note) {
  const body = { question, answer };
  const before = entry && typeof entry.note === 'string' ? entry.note : '';
  if (note !== before) body.note = note;
  return body;
}

// Wendao (问道) web UI: citations. Pure text helpers (splitting an answer at its `[n]` markers,
// finding the passage of a chunk that an answer cites, search-term ranges, labels) and the source
// panel that shows a cited chunk. The helpers need no DOM: tested under `node --test`.

import { t } from './i18n.js';
import { $, highlighted } from './dom.js';
import { ApiError, apiJSON, chunkPath } from './api.js';

// A citation marker `[n]` (1–3 digits). `[1](url)` is a markdown link, not a citation.
const MARKER_RE = /\[(\d{1,3})\](?!\()/g;
const MARKER_RUN_RE = /(?:\[\d{1,3}\](?!\())+/g;

/** Splits an answer into text and citation-marker pieces: {type: 'text'|'cite', value, n}. */
export function splitAnswer(text) {
  const parts = [];
  let last = 0;
  MARKER_RE.lastIndex = 0;
  let m;
  while ((m = MARKER_RE.exec(text)) !== null) {
    if (m.index > last) parts.push({ type: 'text', value: text.slice(last, m.index) });
    parts.push({ type: 'cite', value: m[0], n: Number(m[1]) });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ type: 'text', value: text.slice(last) });
  return parts;
}

/** Removes citation markers (for the history sent back with follow-up questions). */
export function stripMarkers(text) {
  return text.replace(MARKER_RE, '').replace(/[ \t]+\n/g, '\n').trim();
}

const LEADING_JUNK = /^[\s，。、；：,.;:!?！？)）\]】"'”’」』·-]+/u;

/**
 * The pieces of `answer` that cite source `n`: for each marker run containing [n], the text
 * between the previous marker run and this one (a run right after another reuses its text).
 */
export function citedClaims(answer, n) {
  const claims = [];
  let last = 0;
  let previous = '';
  MARKER_RUN_RE.lastIndex = 0;
  let m;
  while ((m = MARKER_RUN_RE.exec(answer)) !== null) {
    let segment = answer.slice(last, m.index).replace(LEADING_JUNK, '').trim();
    if (!segment) segment = previous;
    previous = segment;
    last = m.index + m[0].length;
    const numbers = (m[0].match(/\d+/g) || []).map(Number);
    if (segment && numbers.includes(n) && !claims.includes(segment)) claims.push(segment);
  }
  return claims;
}

const CLOSERS = '"\'”’」』）)]】';

/** Sentence spans [start, end) of `text` (Chinese and Western sentence ends, line breaks), trimmed. */
export function sentenceSpans(text) {
  const spans = [];
  const n = text.length;
  const push = (s, e) => {
    while (s < e && /\s/.test(text[s])) s++;
    while (e > s && /\s/.test(text[e - 1])) e--;
    if (e > s) spans.push([s, e]);
  };
  let start = 0;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    let end = -1;
    if ('。！？；!?;\n'.includes(c)) end = i + 1;
    else if (c === '.' && (i + 1 === n || /\s/.test(text[i + 1]))) end = i + 1;
    if (end < 0) continue;
    while (end < n && ('。！？；!?'.includes(text[end]) || CLOSERS.includes(text[end]))) end++;
    push(start, end);
    start = end;
    i = end - 1;
  }
  if (start < n) push(start, n);
  return spans;
}

/** Terms for fuzzy matching: Latin words and numbers, and character pairs of Chinese runs. */
export function matchTerms(text) {
  const terms = new Set();
  const runs = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  for (const run of runs) {
    if (/\p{Script=Han}/u.test(run)) {
      const chars = Array.from(run);
      if (chars.length === 1) terms.add(chars[0]);
      for (let i = 0; i + 1 < chars.length; i++) terms.add(chars[i] + chars[i + 1]);
    } else if (run.length >= 2 || /\d/.test(run)) {
      terms.add(run);
    }
  }
  return terms;
}

/** Merges overlapping or touching ranges. */
export function mergeRanges(ranges) {
  const sorted = ranges.filter((r) => r[1] > r[0]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = [];
  for (const r of sorted) {
    const top = out[out.length - 1];
    if (top && r[0] <= top[1]) top[1] = Math.max(top[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/**
 * Ranges of `chunkText` to highlight for the claims that cite it: a claim found verbatim (the
 * extractive answerer quotes whole sentences), else its last sentence verbatim, else the chunk's
 * sentences that share most of their terms with the claim (a model paraphrases). When nothing
 * matches, `fallback` (the citation's own text) is located in the chunk.
 */
export function findHighlights(chunkText, claims, fallback) {
  const ranges = [];
  const spans = sentenceSpans(chunkText);
  const spanTerms = spans.map(([s, e]) => matchTerms(chunkText.slice(s, e)));
  const exact = (s) => {
    const needle = s.trim();
    if (Array.from(needle).length < 4) return null;
    const i = chunkText.indexOf(needle);
    return i >= 0 ? [i, i + needle.length] : null;
  };
  const fuzzy = (s) => {
    const terms = matchTerms(s);
    if (terms.size === 0) return [];
    const scored = spans.map((span, i) => {
      let shared = 0;
      for (const term of spanTerms[i]) if (terms.has(term)) shared++;
      const denominator = Math.min(spanTerms[i].size, terms.size) || 1;
      return { span, shared, score: shared / denominator };
    });
    const good = scored.filter((x) => x.shared >= 2 && x.score >= 0.5).map((x) => x.span);
    if (good.length) return good;
    const best = scored.reduce((a, b) => (b.score > a.score ? b : a), { score: 0, shared: 0, span: null });
    return best.span && best.shared >= 2 && best.score >= 0.34 ? [best.span] : [];
  };
  for (const claim of claims) {
    const whole = exact(claim);
    if (whole) { ranges.push(whole); continue; }
    const claimSpans = sentenceSpans(claim);
    const lastSentence = claimSpans.length ? claim.slice(claimSpans[claimSpans.length - 1][0], claimSpans[claimSpans.length - 1][1]) : claim;
    const lastExact = exact(lastSentence);
    if (lastExact) { ranges.push(lastExact); continue; }
    let found = fuzzy(lastSentence);
    if (!found.length && lastSentence !== claim) found = fuzzy(claim);
    ranges.push(...found);
  }
  if (!ranges.length && fallback) {
    const f = fallback.trim();
    const i = f ? chunkText.indexOf(f) : -1;
    if (i >= 0) ranges.push([i, i + f.length]);
  }
  return mergeRanges(ranges);
}

/** Ranges of `text` where terms of `query` occur (search result highlighting). */
export function queryTermRanges(text, query) {
  const lower = text.toLowerCase();
  if (lower.length !== text.length) return [];
  const needles = new Set();
  const runs = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  for (const run of runs) {
    if (/\p{Script=Han}/u.test(run)) {
      const chars = Array.from(run);
      if (chars.length === 1) needles.add(chars[0]);
      for (let i = 0; i + 1 < chars.length; i++) needles.add(chars[i] + chars[i + 1]);
    } else if (run.length >= 2 || /\d/.test(run)) {
      needles.add(run);
    }
  }
  const ranges = [];
  for (const needle of needles) {
    let i = lower.indexOf(needle);
    let guard = 0;
    while (i >= 0 && guard++ < 1000) {
      ranges.push([i, i + needle.length]);
      i = lower.indexOf(needle, i + needle.length);
    }
  }
  return mergeRanges(ranges);
}

/** The citations (or sources) of an answer by their number `n`. */
export function citationMap(list) {
  const map = new Map();
  if (Array.isArray(list)) for (const c of list) if (c && typeof c.n === 'number') map.set(c.n, c);
  return map;
}

/** Citation `n` of a turn: the answer's citation, else the source sent before the answer. */
export function lookupCitation(turn, n) {
  return turn.citations.get(n) || turn.sources.get(n) || null;
}

/** `document › section` (or the document alone) of a citation. */
export function sourceLabel(c) {
  if (!c) return '';
  if (c.kind === 'curated') return t('curated.cited') + (c.section ? ' › ' + c.section : '');
  return c.section ? c.document + ' › ' + c.section : c.document || '';
}

/** The accessible label (and tooltip) of the citation badge `[n]`. */
export function citationLabel(c, n) {
  return c && (c.document || c.kind === 'curated') ? t('chat.citation', { n, document: sourceLabel(c) }) : t('chat.citationNoDoc', { n });
}

/** The label of a cited source in the list under an answer: `document › section · page N`. */
export function sourceRefLabel(c) {
  return sourceLabel(c) + (c.page !== null && c.page !== undefined ? ' · ' + t('search.page', { page: c.page }) : '');
}

// ----- Source panel: the full chunk a citation points at, with the cited passage highlighted -----

export const panel = { turn: null, n: 0, badge: null, token: 0 };
/** Chunks fetched for the panel, by knowledge base and chunk id (cleared when documents change). */
export const chunkCache = new Map();

export function openSourcePanel(turn, n, badge) {
  const c = lookupCitation(turn, n);
  if (!c) return;
  const token = ++panel.token;
  if (panel.badge) panel.badge.classList.remove('active');
  panel.turn = turn;
  panel.n = n;
  panel.badge = badge;
  if (badge) badge.classList.add('active');
  const sp = $('source-panel');
  sp.hidden = false;
  $('chat-layout').classList.add('with-panel');
  $('source-title').textContent = t('source.title', { n });
  fillSourceMeta(c);
  const claims = citedClaims(turn.text, n);
  // Show what we have at once; replace with the full chunk when it arrives.
  renderSourceText(c.text || '', claims, c.text || '');
  $('source-status').textContent = t('source.loading');
  $('source-title').focus();
  if (c.kind === 'curated') {
    // A curated answer is no chunk: its text is all there is.
    $('source-status').textContent = '';
    return;
  }
  const cacheKey = turn.kb + '\u0000' + c.chunk_id;
  const load = chunkCache.has(cacheKey)
    ? Promise.resolve(chunkCache.get(cacheKey))
    : apiJSON(chunkPath(turn.kb, c.chunk_id)).then((chunk) => { chunkCache.set(cacheKey, chunk); return chunk; });
  load.then((chunk) => {
    if (token !== panel.token) return;
    if (!chunk || typeof chunk.text !== 'string') throw new ApiError(0, 'bad_response', t('error.badResponse'));
    fillSourceMeta({
      document: chunk.document || c.document, section: chunk.section !== undefined ? chunk.section : c.section,
      page: chunk.page !== undefined ? chunk.page : c.page, chunk_id: chunk.chunk_id !== undefined ? chunk.chunk_id : c.chunk_id,
    });
    renderSourceText(chunk.text, claims, c.text || '');
    $('source-status').textContent = '';
  }).catch((e) => {
    if (token !== panel.token) return;
    $('source-status').textContent = t('source.unavailable', { error: (e && e.message) || String(e) });
  });
}

function fillSourceMeta(c) {
  $('source-document').textContent = c.kind === 'curated' ? t('curated.cited') : c.document || t('common.none');
  $('source-section').textContent = c.section || '';
  $('source-section-row').hidden = !c.section;
  const hasPage = c.page !== null && c.page !== undefined && c.page !== '';
  $('source-page').textContent = hasPage ? String(c.page) : '';
  $('source-page-row').hidden = !hasPage;
  $('source-text').dataset.chunkId = c.chunk_id !== undefined && c.chunk_id !== null ? String(c.chunk_id) : '';
}

function renderSourceText(text, claims, fallback) {
  const ranges = findHighlights(text, claims, fallback === text ? '' : fallback);
  const box = $('source-text');
  box.replaceChildren(...highlighted(text, ranges, 'cited'));
  $('source-legend').hidden = ranges.length === 0;
  const first = box.querySelector('mark');
  if (first && typeof first.scrollIntoView === 'function') first.scrollIntoView({ block: 'nearest' });
}

export function closeSourcePanel(restoreFocus) {
  const sp = $('source-panel');
  if (sp.hidden) return;
  sp.hidden = true;
  $('chat-layout').classList.remove('with-panel');
  panel.token++;
  const badge = panel.badge;
  if (badge) badge.classList.remove('active');
  panel.turn = null;
  panel.n = 0;
  panel.badge = null;
  if (restoreFocus && badge && badge.isConnected) badge.focus();
}

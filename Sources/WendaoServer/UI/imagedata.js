// Wendao (问道) web UI: the image studio's data helpers (request bodies, sizes, statuses, costs).
// No DOM access: tested under `node --test`.

/** The sizes offered in the form (DashScope writes 1024*1024; 1024x1024 is accepted too). */
export const SIZES = ['1024*1024', '720*1280', '1280*720', '768*1152', '512*512'];

/** `1024*1024`, `1024x1024` or `1024×1024` as `1024*1024`; null when it is not two sides of 64–4096. */
export function parseSize(text) {
  const m = /^\s*(\d{2,4})\s*[*x×X]\s*(\d{2,4})\s*$/.exec(String(text || ''));
  if (!m) return null;
  const w = Number(m[1]), h = Number(m[2]);
  if (w < 64 || h < 64 || w > 4096 || h > 4096) return null;
  return w + '*' + h;
}

/**
 * The body of POST /api/v1/images from the form's values, or `{error}` naming the i18n key of what
 * is wrong: an empty prompt, a bad size, a count outside 1–16, a seed that is not a whole number.
 */
export function generationBody(values) {
  const prompt = String(values.prompt || '').trim();
  if (!prompt) return { error: 'images.error.prompt' };
  const body = { prompt };
  const model = String(values.model || '').trim();
  if (model) body.model = model;
  if (values.size) {
    const size = parseSize(values.size);
    if (!size) return { error: 'images.error.size' };
    body.size = size;
  }
  const n = Number(values.n || 1);
  if (!Number.isInteger(n) || n < 1 || n > 16) return { error: 'images.error.n' };
  body.n = n;
  const negative = String(values.negative || '').trim();
  if (negative) body.negative_prompt = negative;
  if (values.seed !== undefined && String(values.seed).trim() !== '') {
    const seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0) return { error: 'images.error.seed' };
    body.seed = seed;
  }
  const tags = String(values.tags || '').split(/[,，]/).map((s) => s.trim()).filter(Boolean);
  if (tags.length) body.tags = tags;
  return { body };
}

/** The form values that make the same request again ("run again"). */
export function valuesFromRecord(r) {
  const p = (r && r.parameters) || {};
  return {
    prompt: (r && r.prompt) || '', negative: (r && r.negative_prompt) || '', model: (r && r.model) || '',
    size: typeof p.size === 'string' ? p.size : '', n: Number.isInteger(p.n) ? p.n : 1,
    seed: Number.isInteger(r && r.seed) ? String(r.seed) : '', tags: ((r && r.tags) || []).join(', '),
  };
}

/** The i18n key of a record's status. */
export function statusKey(status) {
  const known = ['submitting', 'pending', 'running', 'succeeded', 'partial', 'failed', 'canceled', 'unknown', 'timed_out'];
  return 'images.status.' + (known.includes(status) ? status : 'unknown');
}

/** Whether a status is still going. */
export function isRunning(status) { return status === 'submitting' || status === 'pending' || status === 'running'; }

/** `0.28 CNY`, or '' when no cost is known. */
export function costText(r) {
  if (!r || typeof r.cost !== 'number') return '';
  return r.cost.toFixed(2) + ' ' + (r.currency || '');
}

/** The path of a record's picture `index`. */
export function filePath(id, index) {
  return '/api/v1/images/' + encodeURIComponent(String(id)) + '/files/' + encodeURIComponent(String(index));
}

/** The path of the thumbnail (256 px JPEG) of a record's picture `index`. */
export function thumbnailPath(id, index) {
  return filePath(id, index) + '/thumbnail';
}

/**
 * What the gallery grid shows for a file: its thumbnail, or — when none could be made (a WebP, a
 * picture too large to decode) — the file itself if it is small enough to send whole (≤ 4 MB), else
 * nothing (null).
 */
export function gridPicture(id, file) {
  if (!file) return null;
  if (!file.thumbnail_skipped) return { path: thumbnailPath(id, file.index), fallback: file.bytes <= 4 << 20 ? filePath(id, file.index) : null };
  return file.bytes <= 4 << 20 ? { path: filePath(id, file.index), fallback: null } : null;
}

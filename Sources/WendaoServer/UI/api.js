// Wendao (问道) web UI: the REST API client. Bearer key from sessionStorage; a 401 opens the key
// dialog and the request is retried with the key given; a failed response becomes an ApiError
// carrying the server's `{"error": {"code", "message"}}`.

import { t, getLang, serverMessage } from './i18n.js';
import { $, toast } from './dom.js';
import { storage, SS_KEY } from './settings.js';

/** A failed request: HTTP status (0: no response), the server's error code, a message to show. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter, detail) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    /** The server's own message (English, naming what failed), when `message` is a translation. */
    this.detail = detail || '';
  }
}

export function getKey() { return storage.get('sessionStorage', SS_KEY) || ''; }
export function setKey(key) {
  if (key) storage.set('sessionStorage', SS_KEY, key);
  else storage.remove('sessionStorage', SS_KEY);
  $('key-forget').hidden = !key;
}

/** The error of a failed response, from `{"error": {"code", "message"}}` when the body has one. */
export function errorFromBody(status, bodyText, retryAfterHeader) {
  let code = 'http_' + status;
  let message = '';
  try {
    const body = JSON.parse(bodyText);
    if (body && body.error) {
      if (typeof body.error.code === 'string') code = body.error.code;
      if (typeof body.error.message === 'string') message = body.error.message;
    }
  } catch (e) { /* not JSON */ }
  const detail = message;
  // A stable code is shown in the interface's language (serverMessage); a body without one by its status.
  message = code.startsWith('http_') ? (getLang() === 'en' && message) || t('error.http', { status }) : serverMessage(code, message);
  const retry = retryAfterHeader && /^\d+$/.test(retryAfterHeader.trim()) ? Number(retryAfterHeader.trim()) : null;
  if (retry !== null && (status === 429 || status === 503)) message += ' ' + t('error.retryAfter', { s: retry });
  return new ApiError(status, code, message, retry, detail !== message ? detail : '');
}

export async function errorFromResponse(res) {
  let text = '';
  try { text = await res.text(); } catch (e) { /* ignore */ }
  return errorFromBody(res.status, text, res.headers.get('Retry-After'));
}

// Key dialog: one at a time; concurrent 401s wait for the same answer.
let keyRequest = null;
export function askForKey(refused) {
  if (keyRequest) return keyRequest.promise;
  const dialog = $('key-dialog');
  const request = {};
  request.promise = new Promise((resolve, reject) => { request.resolve = resolve; request.reject = reject; });
  keyRequest = request;
  $('key-error').hidden = !refused;
  $('key-input').value = '';
  if (!dialog.open) {
    if (typeof dialog.showModal === 'function') dialog.showModal();
    else dialog.setAttribute('open', '');
  }
  $('key-input').focus();
  return request.promise;
}

// The signed-in account (cookie session): who, and the CSRF token requests that change data echo.
let session = null;

/** The signed-in account's session (`{user, csrf_token, expires_at}`), or null. */
export function getSession() { return session; }

function setSession(value) {
  session = value && value.user ? value : null;
  const badge = $('user-badge');
  badge.hidden = !session;
  badge.textContent = session ? t('signin.as', { name: session.user.name }) : '';
  $('sign-out').hidden = !session;
  document.documentElement.dataset.role = session ? (session.user.administrator ? 'admin' : 'member') : '';
}

/** Reads the current session (a cookie from an earlier sign-in), without asking for anything. */
export async function loadSession() {
  try {
    const res = await fetch('/api/v1/session', { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
    setSession(res.status === 200 ? await res.json() : null);
  } catch (e) {
    setSession(null);
  }
  return session;
}

/** Headers a request that changes data needs when signed in. */
export function csrfHeaders(method) {
  const m = (method || 'GET').toUpperCase();
  return session && !['GET', 'HEAD', 'OPTIONS'].includes(m) ? { 'X-CSRF-Token': session.csrf_token } : {};
}

async function signIn() {
  const name = $('signin-name').value.trim();
  const password = $('signin-password').value;
  showSignInError('');
  if (!name || !password) { showSignInError(t('signin.missing')); return; }
  $('signin-submit').disabled = true;
  try {
    const res = await fetch('/api/v1/session', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ name, password }),
    });
    if (!res.ok) {
      const e = await errorFromResponse(res);
      showSignInError(res.status === 401 ? t('signin.failed') : e.message);
      return;
    }
    setSession(await res.json());
    $('signin-password').value = '';
    setKey('');
    finishKeyRequest(null, true);
  } catch (e) {
    showSignInError(t('error.network', { error: (e && e.message) || String(e) }));
  } finally {
    $('signin-submit').disabled = false;
  }
}

function showSignInError(message) {
  $('signin-error').textContent = message;
  $('signin-error').hidden = !message;
}

async function signOut() {
  try {
    await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin', cache: 'no-store' });
  } catch (e) { /* the cookie is cleared by the server; nothing else to do */ }
  setSession(null);
  toast(t('signin.signedOut'));
  location.reload();
}

function finishKeyRequest(key, signedIn) {
  const request = keyRequest;
  keyRequest = null;
  const dialog = $('key-dialog');
  $('key-input').value = '';
  if (dialog.open) {
    if (typeof dialog.close === 'function') dialog.close();
    else dialog.removeAttribute('open');
  }
  if (!request) return;
  $('signin-password').value = '';
  showSignInError('');
  if (signedIn) request.resolve();
  else if (key) { setKey(key); request.resolve(); }
  else request.reject(new ApiError(401, 'unauthenticated', t('auth.required')));
}

export function setupKeyDialog() {
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) { $('key-input').focus(); return; }
    finishKeyRequest(key);
  });
  $('key-cancel').addEventListener('click', () => finishKeyRequest(null));
  $('key-dialog').addEventListener('cancel', (e) => { e.preventDefault(); finishKeyRequest(null); });
  $('key-forget').addEventListener('click', () => { setKey(''); toast(t('key.forgotten')); });
  $('signin-submit').addEventListener('click', () => signIn());
  $('signin-password').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); signIn(); } });
  $('sign-out').addEventListener('click', () => signOut());
  $('key-forget').hidden = !getKey();
}

/** fetch with the key; on 401 asks for a key and retries; non-2xx becomes an ApiError. */
export async function apiFetch(path, options) {
  const opts = options || {};
  for (;;) {
    const headers = new Headers(opts.headers || {});
    let body = opts.body;
    if (opts.json !== undefined) {
      headers.set('Content-Type', 'application/json');
      body = JSON.stringify(opts.json);
    }
    if (!headers.has('Accept')) headers.set('Accept', 'application/json');
    const key = getKey();
    if (key) headers.set('Authorization', 'Bearer ' + key);
    else for (const [k, v] of Object.entries(csrfHeaders(opts.method))) headers.set(k, v);
    let res;
    try {
      res = await fetch(path, {
        method: opts.method || 'GET', headers, body, signal: opts.signal,
        credentials: 'same-origin', cache: 'no-store', redirect: 'error',
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', t('error.network', { error: (e && e.message) || String(e) }));
    }
    if (res.status === 401) {
      if (key) setKey('');
      const hadSession = Boolean(session);
      if (hadSession) setSession(null); // the session ended: sign in again
      await askForKey(Boolean(key) || hadSession); // rejects when the person cancels
      continue;
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }
}

export async function apiJSON(path, options) {
  const res = await apiFetch(path, options);
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch (e) { throw new ApiError(res.status, 'bad_response', t('error.badResponse')); }
}

/** Multipart upload with XMLHttpRequest (for upload progress); 401 → key dialog → retry. */
export function xhrUpload(path, formData, onProgress) {
  const attempt = () => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    const key = getKey();
    if (key) xhr.setRequestHeader('Authorization', 'Bearer ' + key);
    else for (const [k, v] of Object.entries(csrfHeaders('POST'))) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
    xhr.addEventListener('load', () => resolve({ status: xhr.status, text: xhr.responseText, key,
      retryAfter: xhr.getResponseHeader('Retry-After') }));
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', t('error.network', { error: 'XMLHttpRequest' }))));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'aborted')));
    xhr.send(formData);
  });
  return (async () => {
    for (;;) {
      const r = await attempt();
      if (r.status === 401) {
        if (r.key) setKey('');
        const hadSession = Boolean(session);
        if (hadSession) setSession(null);
        await askForKey(Boolean(r.key) || hadSession);
        continue;
      }
      if (r.status < 200 || r.status >= 300) throw errorFromBody(r.status, r.text, r.retryAfter);
      try { return JSON.parse(r.text); } catch (e) { throw new ApiError(r.status, 'bad_response', t('error.badResponse')); }
    }
  })();
}

// URLs of the REST API. Names and ids are percent-encoded (knowledge bases may have Chinese names).
const enc = encodeURIComponent;

/** `/api/v1/kbs/{kb}`. */
export function kbPath(kb) { return '/api/v1/kbs/' + enc(kb); }

/** `/api/v1/kbs/{kb}/documents/{id}`. */
export function documentPath(kb, id) { return kbPath(kb) + '/documents/' + enc(String(id)); }

/** `/api/v1/kbs/{kb}/chunks/{id}`. */
export function chunkPath(kb, id) { return kbPath(kb) + '/chunks/' + enc(String(id)); }

/** `/api/v1/jobs/{id}`. */
export function jobPath(id) { return '/api/v1/jobs/' + enc(String(id)); }

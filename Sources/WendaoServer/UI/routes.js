// Wendao (问道) web UI: the page's routes, in the URL's fragment: #/chat, #/kbs, #/docs/NAME,
// #/doc/ID/NAME (one document's page), #/settings/NAME, #/search, #/log, #/admin (keys and
// accounts), #/model (inside a local model), #/images and #/tryon (the image studio), #/evals and #/playground (the evaluation workbench), #/tune (the fine-tuning data review). A knowledge base's name is percent-encoded in #/docs/NAME, #/doc/ID/NAME and
// #/settings/NAME (names may be Chinese or hold '/').
// No DOM access: tested under `node --test`.

export const VIEWS = ['chat', 'kbs', 'docs', 'doc', 'settings', 'search', 'log', 'admin', 'model', 'images', 'tryon', 'evals', 'playground', 'tune'];

/** The route of the documents view of knowledge base `kb`. */
export function docsRoute(kb) { return '#/docs/' + encodeURIComponent(kb); }

/** The route of the settings view of knowledge base `kb`. */
export function settingsRoute(kb) { return '#/settings/' + encodeURIComponent(kb); }

/** The route of the page of document `id` of knowledge base `kb`. */
export function docRoute(kb, id) { return '#/doc/' + encodeURIComponent(String(id)) + '/' + encodeURIComponent(kb); }

/**
 * What a fragment asks for: `{view, kb}` (kb only for 'docs' and 'doc'; 'doc' also has a numeric
 * `doc` id), `{redirect}` for a route that does
 * not exist (or a documents route without a readable name), or `{anchor: true}` for an in-page
 * anchor such as the skip link's #main. No fragment is the chat.
 */
export function parseRoute(hash) {
  const h = hash || '#/chat';
  if (!h.startsWith('#/')) return { anchor: true };
  const parts = h.slice(2).split('/');
  const view = parts[0];
  if (view === 'docs' || view === 'settings') {
    let kb = '';
    try { kb = decodeURIComponent(parts.slice(1).join('/')); } catch (e) { kb = ''; }
    return kb ? { view, kb } : { redirect: '#/kbs' };
  }
  if (view === 'doc') {
    let kb = '';
    try { kb = decodeURIComponent(parts.slice(2).join('/')); } catch (e) { kb = ''; }
    const id = parts[1] || '';
    if (!kb) return { redirect: '#/kbs' };
    return /^[1-9][0-9]{0,17}$/.test(id) ? { view, kb, doc: id } : { redirect: docsRoute(kb) };
  }
  return VIEWS.includes(view) ? { view, kb: '' } : { redirect: '#/chat' };
}

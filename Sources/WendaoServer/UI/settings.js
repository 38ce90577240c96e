// Wendao (问道) web UI: what this browser remembers for the person using it — the interface
// language, the chosen knowledge base and model (localStorage), and the API key (sessionStorage,
// this tab only). Storage that is missing or refuses (private mode) is treated as empty.

import { pickLang } from './i18n.js';

export const storage = {
  get(area, key) { try { return window[area].getItem(key); } catch (e) { return null; } },
  set(area, key, value) { try { window[area].setItem(key, value); } catch (e) { /* private mode */ } },
  remove(area, key) { try { window[area].removeItem(key); } catch (e) { /* ignore */ } },
};
export const LS_LANG = 'wendao.lang';
export const LS_KB = 'wendao.kb';
export const LS_MODEL = 'wendao.model';
export const SS_KEY = 'wendao.apiKey';

/** The language to start in: the saved one, else the browser's preference (Chinese or English). */
export function initialLang() {
  const nav = typeof navigator === 'object' && navigator ? navigator : {};
  const prefs = nav.languages && nav.languages.length ? nav.languages : [nav.language || 'en'];
  return pickLang(storage.get('localStorage', LS_LANG), prefs);
}

// Wendao (问道) web UI: the state the views share — the knowledge bases, the one chosen (for chat
// and search), the view shown — and the conversation.

import { storage, LS_KB } from './settings.js';

export const state = {
  kbs: null, // [KB] once loaded
  kbsError: '',
  kb: storage.get('localStorage', LS_KB) || '',
  view: '',
  docsKb: '',
  docs: null,
  searchResult: null,
};

export const chat = {
  kb: '',
  turns: [], // see newTurn in answer.js
  conversationId: null, // the conversation the server keeps, once the first answer came
  controller: null,
  busy: false,
};

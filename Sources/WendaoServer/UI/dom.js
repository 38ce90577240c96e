// Wendao (问道) web UI: DOM helpers. Text from the server or a model only ever becomes text nodes
// (textContent / createTextNode), never HTML; `el` refuses innerHTML and style. Also the toast and
// the confirmation dialog.

import { t } from './i18n.js';

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** Creates an element. Props: class, text, dataset, on<event>, other attributes; children are
 *  nodes or strings (strings become text nodes). Never sets innerHTML or style. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else if (k === 'style' || k === 'innerHTML') throw new Error('not allowed: ' + k);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Text nodes and <mark> elements for `text` with `ranges` highlighted. */
export function highlighted(text, ranges, markClass) {
  const nodes = [];
  let pos = 0;
  for (const [s, e] of ranges) {
    if (s > pos) nodes.push(document.createTextNode(text.slice(pos, s)));
    nodes.push(el('mark', { class: markClass || null }, text.slice(s, e)));
    pos = e;
  }
  if (pos < text.length) nodes.push(document.createTextNode(text.slice(pos)));
  return nodes;
}

/**
 * Labels each body cell of `table` with its column's heading (`data-label`), which the phone
 * layout shows in front of the value when rows become cards. Call after (re)rendering the rows
 * and after a change of language.
 */
export function labelCells(table) {
  if (!table || !table.tHead || !table.tHead.rows.length) return;
  const heads = Array.from(table.tHead.rows[0].cells, (c) => c.textContent.trim());
  for (const body of table.tBodies) {
    for (const row of body.rows) {
      Array.from(row.cells).forEach((cell, i) => {
        if (heads[i]) cell.setAttribute('data-label', heads[i]);
        else cell.removeAttribute('data-label');
      });
    }
  }
}

let toastTimer = 0;
export function toast(message) {
  const box = $('toast');
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; box.textContent = ''; }, 4000);
}

export function showError(box, message) {
  if (!box) return;
  box.textContent = message || '';
  box.hidden = !message;
}

// Confirmation dialog (a <dialog>, so browser tests need no native-dialog handler)
let confirmResolve = null;
export function confirmAction(message, okLabel) {
  const dialog = $('confirm-dialog');
  if (confirmResolve) confirmResolve(false);
  $('confirm-message').textContent = message;
  $('confirm-ok').textContent = okLabel || t('common.delete');
  return new Promise((resolve) => {
    confirmResolve = resolve;
    if (typeof dialog.showModal === 'function') dialog.showModal(); else dialog.setAttribute('open', '');
    $('confirm-cancel').focus();
  });
}
function finishConfirm(value) {
  const dialog = $('confirm-dialog');
  if (dialog.open) { if (typeof dialog.close === 'function') dialog.close(); else dialog.removeAttribute('open'); }
  const resolve = confirmResolve;
  confirmResolve = null;
  if (resolve) resolve(value);
}
export function setupConfirmDialog() {
  $('confirm-form').addEventListener('submit', (e) => { e.preventDefault(); finishConfirm(true); });
  $('confirm-cancel').addEventListener('click', () => finishConfirm(false));
  $('confirm-dialog').addEventListener('cancel', (e) => { e.preventDefault(); finishConfirm(false); });
}

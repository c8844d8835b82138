// The console's small DOM helpers, shared by its pages: elements, tables, the message bar,
// and running an API call from a button. Data always goes in as text nodes.

import { ApiError, session } from './api.js';
import { t } from './i18n.js';

export const main = () => document.getElementById('main');

const onLoginPage = () => location.hash.replace(/^#\/?/, '').split('?')[0] === 'login';

/** h('tag', {class, on: {click}, dataset...}, ...children); strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    } else if (key === 'class') {
      node.className = value;
    } else if (key === 'text') {
      node.textContent = value;
    } else if (key in node && typeof value !== 'string') {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const tr = (...cells) => h('tr', {}, ...cells);
export const td = (content, attrs = {}) => h('td', attrs, content);
export const th = (key) => h('th', { scope: 'col' }, t(key));

export function table(headKeys, rows, attrs = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, t('console.empty'));
  // Each cell carries its column's heading, for tables stacked as cards on a phone.
  const labels = headKeys.map((key) => t(key));
  for (const row of rows.flat()) {
    if (!(row instanceof Element)) continue;
    [...row.children].forEach((cell, i) => { if (labels[i] && !cell.dataset.label) cell.dataset.label = labels[i]; });
  }
  return h('table', attrs, h('thead', {}, tr(...headKeys.map(th))), h('tbody', {}, rows));
}

export function showMessage(text, kind = 'error') {
  const box = document.getElementById('message');
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

export function clearMessage() {
  showMessage('');
}

/** Run an API call for a button: errors go to the message bar, success refreshes. */
export async function act(button, call, after) {
  button.disabled = true;
  clearMessage();
  try {
    const result = await call();
    showMessage(t('console.done'), 'ok');
    if (after) await after(result);
  } catch (error) {
    failed(error);
  } finally {
    button.disabled = false;
  }
}

export function failed(error) {
  if (error instanceof ApiError && error.status === 401 && !onLoginPage()) {
    session.clear();
    location.hash = '#/login';
    showMessage(t('console.error.session'));
    return;
  }
  showMessage(error.message || t('console.error.network'));
}

export function heading(key, ...extra) {
  return h('div', { class: 'page-head' }, h('h1', {}, t(key)), ...extra);
}

export function select(id, options, value, onChange) {
  const node = h('select', { id, on: onChange ? { change: onChange } : {} },
    options.map(([optionValue, label]) => h('option', { value: optionValue }, label)));
  if (options.some(([optionValue]) => optionValue === value)) node.value = value;
  return node;
}

export function labelled(key, control) {
  return h('label', { class: 'field' }, h('span', {}, t(key)), control);
}

/** Offer a downloaded file to the user under ``name`` (an anchor on a blob: URL). */
export function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

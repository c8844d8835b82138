// The console's text: every word comes from /console/strings.json in the chosen language.

const LANG_KEY = 'linli.console.lang';
const LOCALES = { zh_Hans: 'zh-CN', zh_Hant: 'zh-TW', en: 'en' };
let messages = {};
let current = 'zh_Hans';
let languages = ['zh_Hans', 'zh_Hant', 'en'];

// Chinese first: only a language the worker picked is remembered; otherwise the server
// answers in the community's language, whatever the browser's own. This browser keeps
// the last one for its sign-in page; a signed-in worker's own is kept on the server
// (me.js), so it follows them to any browser.
export async function loadStrings(lang) {
  const wanted = lang || localStorage.getItem(LANG_KEY) || '';
  const resp = await fetch(`strings.json${wanted ? `?lang=${encodeURIComponent(wanted)}` : ''}`, {
    headers: { Accept: 'application/json' },
  });
  const data = await resp.json();
  messages = data.messages || {};
  current = data.lang;
  languages = data.languages || languages;
  if (lang) localStorage.setItem(LANG_KEY, current);
  document.documentElement.lang = (LOCALES[current] || 'zh-CN');
  return current;
}

export function lang() {
  return current;
}

export function allLanguages() {
  return languages;
}

export function locale() {
  return LOCALES[current] || 'zh-CN';
}

/** The message in the current language, with {placeholders} filled. */
export function t(key, params = {}) {
  const text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Fill every [data-t] element under root with its message. */
export function translateTree(root = document) {
  for (const node of root.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
}

const TIME_ZONE = 'Asia/Shanghai';

export function formatTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), {
    timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(new Date(iso));
}

export function formatPercent(share) {
  if (share === null || share === undefined) return '';
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(share);
}

export function formatNumber(value) {
  // null: the server withholds the figure from this role (an open vote's tally): a dash, never 0.
  if (value === null || value === undefined) return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(value);
}

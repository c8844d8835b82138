// A client of the JSON API: the bearer token lives in sessionStorage, errors carry the
// server's message (already in the caller's language).

import { lang, t } from './i18n.js';

const TOKEN_KEY = 'linli.console.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const ACCEPT_LANGUAGE = { zh_Hans: 'zh-CN', zh_Hant: 'zh-TW', en: 'en' };

function headers(extra = {}) {
  const made = { 'Accept-Language': ACCEPT_LANGUAGE[lang()] || 'zh-CN', ...extra };
  const token = session.token;
  if (token) made.Authorization = `Bearer ${token}`;
  return made;
}

async function send(path, init) {
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', t('console.error.network'));
  }
}

/** The refusal of a response that is not ok, with the server's message. */
async function refusal(resp) {
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  const error = data && data.error;
  const retryAfter = Number(resp.headers.get('Retry-After')) || null;
  return new ApiError(resp.status, error ? error.code : 'http',
    error ? error.message : t('console.error.network'), retryAfter);
}

async function json(resp) {
  if (!resp.ok) throw await refusal(resp);
  try {
    return await resp.json();
  } catch {
    return null;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: headers({ Accept: 'application/json' }) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return json(await send(path, init));
}

/** POST one file as the multipart field ``file`` (photos, the register); the JSON answer. */
export async function upload(path, file) {
  const form = new FormData();
  form.append('file', file, file.name || 'upload');
  return json(await send(path, { method: 'POST', headers: headers({ Accept: 'application/json' }), body: form }));
}

/** GET a file the API makes (a PDF, a workbook): its bytes and the name the server gave. */
export async function download(path, fallbackName) {
  const resp = await send(path, { method: 'GET', headers: headers() });
  if (!resp.ok) throw await refusal(resp);
  const disposition = resp.headers.get('Content-Disposition') || '';
  const named = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(disposition);
  const name = named ? decodeURIComponent(named[1] || named[2]) : fallbackName;
  return { blob: await resp.blob(), name };
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== '' && value !== null && value !== undefined) search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

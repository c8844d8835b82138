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

export async function api(method, path, body) {
  const headers = { Accept: 'application/json', 'Accept-Language': ACCEPT_LANGUAGE[lang()] || 'zh-CN' };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', t('console.error.network'));
  }
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const error = data && data.error;
    const retryAfter = Number(resp.headers.get('Retry-After')) || null;
    throw new ApiError(resp.status, error ? error.code : 'http',
      error ? error.message : t('console.error.network'), retryAfter);
  }
  return data;
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

// The worker's language, kept on the server (PATCH /api/v1/me, the same as the chat's language command),
// so it follows the worker to any browser; localStorage only remembers this browser's
// last choice for the sign-in page, before anyone is signed in.

import { api, get, session } from './api.js';
import { lang, loadStrings } from './i18n.js';
import { failed } from './ui.js';

// A language picked on the sign-in page, for whoever signs in next in this tab.
const PICKED_KEY = 'linli.console.picked';
let followed = null; // the session whose language was applied

/** The worker picked a language in the header: shown at once, kept for them. */
export async function chooseLanguage(code) {
  await loadStrings(code);
  if (session.token) {
    followed = session.token;
    await api('PATCH', '/api/v1/me', { language: lang() }).catch(failed);
  } else {
    sessionStorage.setItem(PICKED_KEY, lang());
  }
}

/** Once per session: a language picked before signing in becomes the worker's own;
 * otherwise the console takes the worker's (theirs, or the community's if they never
 * chose). True when the text changed and the page chrome must be translated again. */
export async function followWorker() {
  const token = session.token;
  if (!token || followed === token) return false;
  followed = token;
  try {
    const picked = sessionStorage.getItem(PICKED_KEY);
    if (picked) {
      sessionStorage.removeItem(PICKED_KEY);
      await api('PATCH', '/api/v1/me', { language: picked });
      return false;
    }
    const me = await get('/api/v1/me');
    if (!me.language || me.language === lang()) return false;
    await loadStrings(me.language);
    return true;
  } catch {
    followed = null; // the page itself reports a lost session or network
    return false;
  }
}

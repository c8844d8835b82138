// The community workers' console: hash routes over the JSON API, no framework.
// Every visible word comes from strings.json (see i18n.js); data is shown as text nodes.

import { api, get, post, query, session } from './api.js';
import { budgetPage } from './budget.js';
import { canvassPage } from './canvass.js';
import { dashboardPage } from './dashboard.js';
import { coverageLink, proposalPage } from './coverage.js';
import {
  allLanguages, formatNumber, formatPercent, formatTime, lang, loadStrings, t, translateTree,
} from './i18n.js';
import { activityPage, volunteersPage } from './activity.js';
import { chooseLanguage, followWorker } from './me.js';
import { noticePage, noticesPage } from './notices.js';
import { registerPage } from './register.js';
import { ticketPage } from './ticket.js';
import {
  act, clearMessage, failed, h, heading, labelled, main, select, showMessage, table, td, tr,
} from './ui.js';

const PROPOSAL_STATUSES = [
  'submitted', 'under_review', 'published', 'voting', 'approved', 'not_approved', 'rejected',
  'in_progress', 'completed', 'rated', 'withdrawn', 'draft',
];
const TICKET_STATUSES = [
  'received', 'assigned', 'reassigned', 'accepted', 'in_progress', 'escalated', 'resolved',
  'closed', 'rejected',
];
const POLL_MS = 5000;

let timers = [];
let departments = null;

function every(ms, fn) {
  timers.push(setInterval(fn, ms));
}

async function departmentList() {
  if (departments === null) {
    const figures = await get('/api/v1/dashboard');
    departments = figures.departments;
  }
  return departments;
}

const departmentName = (key) => (departments || []).find((d) => d.key === key)?.name || key;

// --- sign-in ----------------------------------------------------------------------------

function loginPage() {
  const name = h('input', { id: 'login-name', name: 'login', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const submit = h('button', { type: 'submit', id: 'login-submit' }, t('console.login.submit'));
  const form = h('form', {
    id: 'login-form',
    class: 'card login',
    on: {
      submit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        clearMessage();
        try {
          const signed = await post('/api/v1/auth/password', { login: name.value, password: password.value });
          // Which roles may use the console is the server's one definition (the console set).
          if (!(signed.resident?.may || []).includes('console')) {
            session.set(signed.token);
            await api('POST', '/api/v1/auth/logout', {}).catch(() => {});
            session.clear();
            showMessage(t('console.login.not_worker'));
            return;
          }
          session.set(signed.token);
          location.hash = '#/dashboard';
        } catch (error) {
          showMessage(error.message);
        } finally {
          submit.disabled = false;
        }
      },
    },
  },
  h('h1', {}, t('console.login.heading')),
  labelled('console.login.name', name),
  labelled('console.login.password', password),
  submit,
  h('button', { type: 'button', id: 'login-qr', class: 'secondary', on: { click: qrSignIn } },
    t('console.login.qr')));
  main().replaceChildren(form);
  name.focus();
}

// Scanning with the official account: the server knows when the worker has scanned and
// confirmed in chat; the page asks every four seconds until then (the sign-in limit
// allows twenty requests a minute per address), with the secret only it was given.
const QR_POLL_MS = 4000;
let qrPoll = null;

async function qrSignIn() {
  clearMessage();
  clearTimeout(qrPoll);
  let started;
  try {
    started = await post('/api/v1/auth/qr');
  } catch (error) {
    showMessage(error.message);
    return;
  }
  const picture = started.qr_url
    ? h('img', { id: 'login-qr-image', src: started.qr_url, alt: t('console.login.qr') })
    : h('code', { id: 'login-qr-scene' }, started.scene);
  const card = h('div', { id: 'login-qr-card', class: 'card login' },
    h('h1', {}, t('console.login.qr')), picture, h('p', {}, t('console.login.qr_hint')),
    h('p', {}, t('console.login.qr_confirm_hint')));
  main().replaceChildren(card);
  const poll = async () => {
    if (route() !== 'login') return;
    let wait = QR_POLL_MS;
    try {
      const state = await post(`/api/v1/auth/qr/${encodeURIComponent(started.ticket)}`,
        { secret: started.secret });
      if (state.status === 'signed_in') {
        session.set(state.session.token);
        location.hash = '#/dashboard';
        return;
      }
    } catch (error) {
      // Too many requests from this address for a moment: ask again later, not give up.
      if (error.status !== 429) {
        showMessage(error.message);
        return;
      }
      wait = Math.max(QR_POLL_MS, (error.retryAfter || 10) * 1000);
    }
    qrPoll = setTimeout(poll, wait);
  };
  qrPoll = setTimeout(poll, QR_POLL_MS);
}

async function logout() {
  try {
    await post('/api/v1/auth/logout');
  } catch {
    // the session is gone either way
  }
  session.clear();
  departments = null;
  location.hash = '#/login';
}

// --- dashboard --------------------------------------------------------------------------

// The page itself is dashboard.js (ECharts).

// --- proposals --------------------------------------------------------------------------

function tallyCell(p) {
  if (p.status === 'voting') {
    const counted = p.tally || { yes: 0, no: 0, abstain: 0 };
    return h('div', { class: 'tally', 'data-tally': p.id },
      h('span', { class: 'yes' }, `${t('console.dashboard.yes')} ${counted.yes}`), ' · ',
      h('span', { class: 'no' }, `${t('console.dashboard.no')} ${counted.no}`), ' · ',
      h('span', { class: 'abstain' }, `${t('console.dashboard.abstain')} ${counted.abstain}`),
      h('div', { class: 'muted' }, t('console.proposals.voted', { voted: p.turnout ?? 0, eligible: p.eligible ?? 0 })),
      p.voting_ends_at ? h('div', { class: 'muted' }, `${t('console.proposals.ends')} ${formatTime(p.voting_ends_at)}`) : null);
  }
  if (p.result) {
    const r = p.result;
    return h('div', { class: 'tally', 'data-tally': p.id },
      h('strong', { class: `outcome outcome-${r.outcome}`, 'data-outcome': r.outcome },
        `${t('console.proposals.outcome')}: ${t(`console.proposal.${r.outcome}`)}`),
      h('div', {}, `${t('console.dashboard.yes')} ${r.yes} · ${t('console.dashboard.no')} ${r.no} · ${t('console.dashboard.abstain')} ${r.abstain}`),
      h('div', { class: 'muted' }, t('console.proposals.voted', { voted: r.yes + r.no + r.abstain, eligible: r.eligible })));
  }
  return '';
}

function proposalActions(p, reload) {
  const row = [];
  const doAction = (action, body) => (event) => act(event.currentTarget,
    () => post(`/api/v1/proposals/${p.id}/actions/${action}`, body ? body() : {}), reload);
  const button = (action, key, body) => h('button', {
    type: 'button', 'data-action': action, on: { click: doAction(action, body) },
  }, t(key));
  if (p.status === 'submitted') row.push(button('review', 'console.proposals.review'));
  if (p.status === 'under_review') row.push(button('publish', 'console.proposals.publish'));
  if (p.status === 'submitted' || p.status === 'under_review') {
    const reason = h('input', { class: 'reason', 'data-reason': p.id, placeholder: t('console.proposals.reason') });
    row.push(reason, button('reject', 'console.proposals.reject', () => ({ reason: reason.value })));
  }
  if (p.status === 'published') row.push(button('open', 'console.proposals.open', () => ({ days: 7 })));
  if (p.status === 'voting') row.push(button('close', 'console.proposals.close'));
  row.push(coverageLink(p));
  return h('div', { class: 'actions' }, row);
}

async function proposalsPage() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const status = params.get('status') || '';
  const filter = select('proposal-status',
    [['', t('console.proposals.all')], ...PROPOSAL_STATUSES.map((s) => [s, t(`console.proposal.${s}`)])],
    status,
    (event) => { location.hash = `#/proposals${query({ status: event.target.value })}`; });
  const listUrl = `/api/v1/proposals${query({ status, per_page: 100 })}`;
  const page = await get(listUrl);
  const reload = () => render();
  const rows = page.items.map((p) => h('tr', { 'data-proposal': p.id, 'data-status': p.status },
    td(h('a', { href: `#/proposal?id=${p.id}`, 'data-open': p.id }, p.title), { class: 'title' }),
    td(t(`console.proposal.${p.status}`), { class: 'status' }),
    td(tallyCell(p), { class: 'tally-cell' }),
    td(proposalActions(p, reload))));
  main().replaceChildren(
    heading('console.proposals.heading', labelled('console.proposals.filter', filter)),
    h('section', { class: 'card' }, table(
      ['console.proposals.title', 'console.proposals.status', 'console.proposals.tally', 'console.proposals.actions'],
      rows, { id: 'proposals' })),
  );
  if (page.items.some((p) => p.status === 'voting')) {
    // The live tally: only the tally cells change, so a half-typed reason is kept.
    every(POLL_MS, async () => {
      try {
        const fresh = await get(listUrl);
        for (const p of fresh.items.filter((item) => item.status === 'voting')) {
          const cell = document.querySelector(`tr[data-proposal="${p.id}"] .tally-cell`);
          if (cell) cell.replaceChildren(tallyCell(p));
        }
      } catch (error) {
        failed(error);
      }
    });
  }
}

// --- tickets ----------------------------------------------------------------------------

// The API says which deadline the ticket is on (due_at) and whether it passed (overdue).
function due(ticket) {
  if (!ticket.due_at) return null;
  const step = ticket.due_at === ticket.accept_due_at ? 'console.tickets.accept_by' : 'console.tickets.resolve_by';
  return [step, ticket.due_at];
}

// A ticket the router was unsure of waits for triage: the worker sees its two best guesses.
function guesses(ticket) {
  const routing = ticket.routing || {};
  if (!routing.triage || !(routing.candidates || []).length) return null;
  const named = routing.candidates.map((c) => `${departmentName(c.department)} ${Math.round(c.probability * 100)}%`);
  return h('p', { class: 'muted', 'data-guesses': ticket.id }, t('console.tickets.guesses', { guesses: named.join(' / ') }));
}

function ticketCard(ticket, reload) {
  const deadline = due(ticket);
  const late = Boolean(ticket.overdue);
  const note = h('input', { class: 'note', 'data-note': ticket.id, placeholder: t('console.tickets.note') });
  const target = select(`department-${ticket.id}`,
    departments.filter((d) => d.key !== ticket.department).map((d) => [d.key, d.name]), '');
  target.dataset.department = ticket.id;
  const send = (action, body) => (event) => act(event.currentTarget,
    () => post(`/api/v1/complaints/${ticket.id}/actions/${action}`, body()), reload);
  const buttons = [];
  if (['received', 'assigned', 'reassigned', 'accepted', 'in_progress'].includes(ticket.status)) {
    buttons.push(target, h('button', {
      type: 'button', 'data-action': 'reassign',
      on: { click: send('reassign', () => ({ department: target.value, note: note.value })) },
    }, t('console.tickets.reassign')));
  }
  if (['assigned', 'reassigned', 'escalated'].includes(ticket.status)) {
    buttons.push(h('button', { type: 'button', 'data-action': 'accept', on: { click: send('accept', () => ({ note: note.value || null })) } },
      t('console.tickets.accept')));
  }
  if (['accepted', 'in_progress', 'escalated'].includes(ticket.status)) {
    buttons.push(h('button', { type: 'button', 'data-action': 'resolve', on: { click: send('resolve', () => ({ note: note.value })) } },
      t('console.tickets.resolve')));
  }
  return h('article', { class: `ticket${late ? ' late' : ''}`, 'data-ticket': ticket.id, 'data-number': ticket.number },
    h('header', {},
      h('a', { href: `#/ticket?id=${ticket.id}`, class: 'ticket-link', 'data-open': ticket.id }, h('strong', {}, ticket.number)),
      ticket.escalated ? h('span', { class: 'badge escalated' }, t('console.tickets.escalated')) : null,
      late ? h('span', { class: 'badge late' }, t('console.tickets.overdue')) : null),
    h('p', { class: 'text' }, ticket.text),
    ticket.reporters > 1 ? h('p', { class: 'muted' }, t('console.tickets.reporters', { n: ticket.reporters })) : null,
    guesses(ticket),
    deadline && deadline[1] ? h('p', { class: 'deadline' }, `${t(deadline[0])}: ${formatTime(deadline[1])}`) : null,
    buttons.length ? h('div', { class: 'actions' }, note, buttons) : null);
}

async function ticketsPage() {
  await departmentList();
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const department = params.get('department') || '';
  const status = params.get('status') || '';
  const go = (changes) => {
    location.hash = `#/tickets${query({ department, status, ...changes })}`;
  };
  const page = await get(`/api/v1/complaints${query({ department, status, per_page: 100 })}`);
  const reload = () => render();
  const board = h('div', { class: 'board', id: 'board' });
  const byDepartment = new Map();
  for (const ticket of page.items) {
    if (!byDepartment.has(ticket.department)) byDepartment.set(ticket.department, new Map());
    const states = byDepartment.get(ticket.department);
    if (!states.has(ticket.status)) states.set(ticket.status, []);
    states.get(ticket.status).push(ticket);
  }
  for (const [key, states] of byDepartment) {
    const columns = TICKET_STATUSES.filter((s) => states.has(s)).map((s) => h('div', { class: 'column', 'data-column': s },
      h('h3', {}, t(`console.ticket.${s}`), ' ', h('span', { class: 'muted' }, String(states.get(s).length))),
      states.get(s).map((ticket) => ticketCard(ticket, reload))));
    board.append(h('section', { class: 'lane card', 'data-lane': key }, h('h2', {}, departmentName(key)), h('div', { class: 'columns' }, columns)));
  }
  main().replaceChildren(
    heading('console.tickets.heading',
      labelled('console.tickets.department', select('ticket-department',
        [['', t('console.tickets.all')], ...departments.map((d) => [d.key, d.name])], department,
        (event) => go({ department: event.target.value }))),
      labelled('console.tickets.status', select('ticket-status',
        [['', t('console.tickets.all')], ...TICKET_STATUSES.map((s) => [s, t(`console.ticket.${s}`)])], status,
        (event) => go({ status: event.target.value })))),
    page.items.length ? board : h('p', { class: 'empty' }, t('console.empty')),
  );
}

// --- notices: notices.js ----------------------------------------------------------------

// --- households -------------------------------------------------------------------------

async function householdsPage() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const page = Number(params.get('page') || 1);
  const building = params.get('building') || '';
  const data = await get(`/api/v1/households${query({ page, per_page: 50, building })}`);
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  const go = (changes) => {
    location.hash = `#/households${query({ page, building, ...changes })}`;
  };
  const filter = h('input', { id: 'household-building', type: 'number', min: 1, value: building });
  filter.addEventListener('change', () => go({ building: filter.value, page: 1 }));
  const rows = data.items.map((item) => {
    const code = td(item.code || '', { class: 'code' });
    const expires = td(formatTime(item.code_expires_at), { class: 'expires' });
    return h('tr', { 'data-household': item.id },
      td(item.building), td(item.unit), td(item.room),
      td(formatNumber(item.residents), { class: 'num' }), td(formatNumber(item.verified_residents), { class: 'num' }),
      code, expires,
      td(h('button', {
        type: 'button', class: 'no-print', 'data-action': 'new-code',
        on: {
          click: (event) => act(event.currentTarget, () => post(`/api/v1/households/${item.id}/binding-code`), (made) => {
            code.textContent = made.code;
            expires.textContent = formatTime(made.expires_at);
          }),
        },
      }, t('console.households.new_code'))));
  });
  main().replaceChildren(
    heading('console.households.heading',
      h('span', { class: 'no-print' }, labelled('console.households.filter', filter)),
      h('button', { type: 'button', class: 'no-print', id: 'print', on: { click: () => window.print() } }, t('console.print'))),
    h('section', { class: 'card printable' }, table(
      ['console.households.building', 'console.households.unit', 'console.households.room', 'console.households.residents',
        'console.households.verified', 'console.households.code', 'console.households.expires', 'console.proposals.actions'],
      rows, { id: 'households' })),
    h('nav', { class: 'pager no-print' },
      h('button', { type: 'button', disabled: page <= 1, on: { click: () => go({ page: page - 1 }) } }, t('console.households.prev')),
      h('span', {}, t('console.households.page', { page, pages })),
      h('button', { type: 'button', disabled: page >= pages, on: { click: () => go({ page: page + 1 }) } }, t('console.households.next'))),
  );
}

// --- routing ----------------------------------------------------------------------------

const PAGES = {
  login: loginPage,
  dashboard: dashboardPage,
  proposals: proposalsPage,
  tickets: ticketsPage,
  volunteers: volunteersPage,
  activity: activityPage,
  notices: () => noticesPage(every),
  notice: () => noticePage(every),
  households: householdsPage,
  proposal: proposalPage,
  ticket: ticketPage,
  canvass: canvassPage,
  register: registerPage,
  budget: budgetPage,
};

function route() {
  const name = location.hash.replace(/^#\/?/, '').split('?')[0];
  return name in PAGES ? name : 'dashboard';
}

async function render() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
  let name = route();
  if (!session.token && name !== 'login') {
    location.hash = '#/login';
    return;
  }
  const signedIn = Boolean(session.token) && name !== 'login';
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('logout').hidden = !signedIn;
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', link.dataset.route === name);
  }
  document.body.dataset.page = name;
  main().replaceChildren(h('p', { class: 'loading' }, t('console.loading')));
  try {
    // The worker's own language, once a session: picked on another browser or never.
    if (signedIn && await followWorker()) setupChrome();
    await PAGES[name]();
    document.body.dataset.ready = name;
  } catch (error) {
    main().replaceChildren();
    failed(error);
  }
}

function setupChrome() {
  document.title = t('console.title');
  translateTree();
  const chooser = document.getElementById('lang');
  chooser.replaceChildren(...allLanguages().map((code) => h('option', { value: code }, t(`console.lang.${code}`))));
  chooser.value = lang();
}

async function start() {
  await loadStrings();
  setupChrome();
  document.getElementById('lang').addEventListener('change', async (event) => {
    await chooseLanguage(event.target.value);
    setupChrome();
    await render();
  });
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', () => {
    clearMessage();
    delete document.body.dataset.ready;
    render();
  });
  await render();
}

start();

// A household vote's coverage: how many households were reached and how, by building; the
// record's files once the vote is closed; and, for admins, closing a full-coverage vote
// before every household is reached, with a written reason the poster prints.

import { download, get, post } from './api.js';
import { formatNumber, formatTime, t } from './i18n.js';
import { act, h, main, saveFile, table, td } from './ui.js';
import { proposalSections } from './proposal.js';

const REACH = ['online', 'in_person', 'visited', 'not_reached'];
const REASONS = ['not_home', 'refused', 'vacant', 'moved_out', 'other'];
const CHOICES = ['yes', 'no', 'abstain'];

const base = (id) => `/api/v1/proposals/${id}`;

/** The proposals list's way in: household votes once open (a closed one says its unit). */
export function coverageLink(p) {
  const household = p.status === 'voting' || p.result?.rule?.unit === 'household';
  if (!household) return null;
  return h('a', { href: `#/proposal?id=${p.id}`, class: 'button-link', 'data-action': 'coverage' },
    t('console.coverage.open'));
}

/** Reached of eligible with a bar, then each way of being reached, then why not answered. */
export function reachSummary(c) {
  const reasons = REASONS.filter((r) => c.reasons?.[r])
    .map((r) => `${t(`console.canvass.outcome.${r}`)} ${formatNumber(c.reasons[r])}`);
  return h('div', { class: 'reach' },
    h('p', { class: 'reach-head', 'data-reached': c.reached, 'data-eligible': c.eligible },
      t('console.coverage.reached_of', { reached: formatNumber(c.reached), eligible: formatNumber(c.eligible) })),
    h('meter', { min: 0, max: Math.max(c.eligible, 1), value: c.reached }),
    h('dl', { class: 'reach-counts' }, REACH.map((k) => h('div', { 'data-count': k },
      h('dt', {}, t(`console.coverage.${k}`)), h('dd', {}, formatNumber(c[k]))))),
    reasons.length
      ? h('p', { class: 'muted reasons' }, `${t('console.coverage.reasons')}: ${reasons.join(' · ')}`)
      : null);
}

function buildingTable(buildings) {
  // The choices come only to tally readers while the vote is open, to all once it closed.
  const choices = buildings.some((b) => b.yes !== null && b.yes !== undefined);
  const heads = ['console.households.building', 'console.coverage.reached', ...REACH.map((k) => `console.coverage.${k}`),
    ...(choices ? CHOICES.map((c) => `console.dashboard.${c}`) : [])];
  const num = (value, key) => td(formatNumber(value), { class: 'num', 'data-col': key });
  const rows = buildings.map((b) => h('tr', { 'data-building': b.building },
    td(b.building),
    td(`${formatNumber(b.reached)} / ${formatNumber(b.eligible)}`, { class: 'num', 'data-col': 'reached' }),
    REACH.map((k) => num(b[k], k)),
    choices ? CHOICES.map((c) => num(b[c], c)) : null));
  return h('div', { class: 'table-scroll' }, table(heads, rows, { id: 'coverage-buildings' }));
}

function fileButton(id, key, path, fallbackName) {
  return h('button', {
    type: 'button', class: 'secondary', id,
    on: {
      click: (event) => act(event.currentTarget, async () => {
        const file = await download(path, fallbackName);
        saveFile(file.blob, file.name);
      }),
    },
  }, t(key));
}

function overrideForm(proposal, notReached, reload) {
  const reason = h('textarea', { id: 'override-reason', rows: 3, maxlength: 500, required: true });
  const submit = h('button', { type: 'submit', id: 'override-close' }, t('console.coverage.override_confirm'));
  return h('form', {
    class: 'override', id: 'override-form',
    on: {
      submit: (event) => {
        event.preventDefault();
        act(submit, () => post(`${base(proposal.id)}/actions/close`, { override_reason: reason.value }), reload);
      },
    },
  },
  h('h3', {}, t('console.coverage.override')),
  h('p', { class: 'muted' }, t('console.coverage.override_hint', { not_reached: formatNumber(notReached) })),
  h('label', { class: 'field' }, h('span', {}, t('console.coverage.override_reason')), reason),
  submit);
}

/** The coverage card of one vote, as the caller may see it. */
export function coveragePanel(proposal, coverage, may, reload) {
  const voting = proposal.status === 'voting';
  const total = coverage.total;
  const override = proposal.result?.override;
  return h('section', { class: 'card', id: 'coverage', 'data-rule': coverage.coverage_rule },
    h('h2', {}, t('console.coverage.heading')),
    coverage.coverage_rule === 'all' ? h('p', { class: 'muted' }, t('console.coverage.rule_all')) : null,
    reachSummary(total),
    buildingTable(coverage.buildings),
    override ? h('p', { class: 'override-note', id: 'override-note' }, t('console.coverage.overridden', { reason: override.reason })) : null,
    voting
      ? h('div', { class: 'actions' }, h('a', { href: `#/canvass?proposal=${proposal.id}`, class: 'button-link', id: 'to-canvass' },
        t('console.coverage.to_canvass')))
      : h('div', { class: 'actions', id: 'records' },
        fileButton('poster', 'console.coverage.poster', `${base(proposal.id)}/poster.pdf`, `proposal-${proposal.id}.pdf`),
        fileButton('record', 'console.coverage.record', `${base(proposal.id)}/record.xlsx`, `proposal-${proposal.id}.xlsx`)),
    voting && may.includes('admins') && coverage.coverage_rule === 'all' && total.not_reached > 0
      ? overrideForm(proposal, total.not_reached, reload)
      : null);
}

function statusLine(p) {
  // Closed, the status is the outcome (approved, not approved) until the work starts.
  const parts = p.result?.outcome === p.status ? [] : [t(`console.proposal.${p.status}`)];
  if (p.status === 'voting' && p.voting_ends_at) parts.push(`${t('console.proposals.ends')} ${formatTime(p.voting_ends_at)}`);
  if (p.result) parts.push(`${t('console.proposals.outcome')}: ${t(`console.proposal.${p.result.outcome}`)}`);
  return h('p', { id: 'proposal-status', 'data-status': p.status, 'data-outcome': p.result?.outcome }, parts.join(' · '));
}

/** ``#/proposal?id=N``: one proposal, its status, what it says, its comments, its vote and
 * coverage, and for admins its audit trail (proposal.js). */
export async function proposalPage() {
  const id = Number(new URLSearchParams(location.hash.split('?')[1] || '').get('id'));
  const [proposal, me] = await Promise.all([get(base(id)), get('/api/v1/me')]);
  const sections = await proposalSections(proposal, me.may || [], proposalPage);
  let panel;
  try {
    panel = coveragePanel(proposal, await get(`${base(id)}/coverage`), me.may || [], proposalPage);
  } catch (error) {
    if (error.status === 401) throw error;
    // Not a household vote, or not opened: the server says which, in the page's words.
    panel = h('p', { class: 'muted', id: 'coverage-none' }, error.message);
  }
  main().replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, proposal.title),
      h('a', { href: '#/proposals', class: 'button-link no-print' }, t('console.coverage.back'))),
    statusLine(proposal),
    ...sections.top,
    panel,
    ...sections.bottom);
}

// What one proposal's page (#/proposal?id=N, coverage.js) shows besides its coverage: the
// description, scope, cost and photos; the tally and turnout as the API gives them to this
// role; the comments, which managers hide with a reason; and, for admins, the audit trail
// (each read of it is itself recorded by the server).

import { get, post, query } from './api.js';
import { formatNumber, formatTime, t } from './i18n.js';
import { act, h, table, td } from './ui.js';
import { mediaGallery } from './ticket.js';

const base = (id) => `/api/v1/proposals/${id}`;
const REASON_MAX = 2000;
const AUDIT_PER_PAGE = 50;

function fact(key, ...value) {
  return h('div', { class: 'fact' }, h('dt', {}, t(key)), h('dd', {}, ...value));
}

function scopeText(scope) {
  if (!scope || scope.kind === 'community') return t('console.proposal.page.scope.community');
  const names = scope.names && scope.names.length ? scope.names : scope.ids.map((i) => `#${i}`);
  return `${t(`console.proposal.page.scope.${scope.kind}`)}: ${names.join(', ')}`;
}

function aboutCard(p) {
  return h('section', { class: 'card', id: 'proposal-about' },
    h('h2', {}, t('console.proposal.page.about')),
    h('p', { class: 'proposal-description', id: 'proposal-description' }, p.description),
    h('dl', { class: 'facts' },
      fact('console.proposal.page.category', t(`console.proposal.page.category.${p.category}`)),
      fact('console.proposal.page.scope', h('span', { id: 'proposal-scope' }, scopeText(p.scope))),
      p.estimated_cost !== null && p.estimated_cost !== undefined
        ? fact('console.proposal.page.cost', t('console.proposal.page.yuan', { amount: formatNumber(Number(p.estimated_cost)) }))
        : null,
      p.funding ? fact('console.proposal.page.funding', t(`console.budget.source.${p.funding}`)) : null,
      p.published_at ? fact('console.proposal.page.published', formatTime(p.published_at)) : null,
      p.rejection_reason ? fact('console.proposal.page.rejection', p.rejection_reason) : null,
      p.rating && p.rating.count
        ? fact('console.proposal.page.rating', `${formatNumber(p.rating.average)} (${formatNumber(p.rating.count)})`)
        : null),
    h('h3', {}, t('console.proposal.page.photos')),
    mediaGallery(p.photos, 'proposal-photos'));
}

/** Turnout, the live tally and the result: only what the API gave this role. */
function votesCard(p) {
  const rows = [];
  if (p.status === 'voting') {
    rows.push(fact('console.dashboard.turnout', h('span', { id: 'proposal-turnout' },
      t('console.proposals.voted', { voted: formatNumber(p.turnout ?? 0), eligible: formatNumber(p.eligible ?? 0) }))));
    if (p.tally) {
      rows.push(fact('console.proposals.tally', h('span', { id: 'proposal-tally' },
        ['yes', 'no', 'abstain'].map((c) => `${t(`console.dashboard.${c}`)} ${formatNumber(p.tally[c])}`).join(' · '))));
    } else {
      rows.push(h('p', { class: 'muted', id: 'proposal-tally-hidden' }, t('console.proposal.page.tally_hidden')));
    }
  }
  if (p.result) {
    const r = p.result;
    rows.push(fact('console.proposals.outcome', t(`console.proposal.${r.outcome}`)),
      fact('console.proposals.tally', h('span', { id: 'proposal-tally' },
        ['yes', 'no', 'abstain'].map((c) => `${t(`console.dashboard.${c}`)} ${formatNumber(r[c])}`).join(' · '))),
      fact('console.dashboard.eligible', formatNumber(r.eligible)));
  }
  if (!rows.length) return null;
  return h('section', { class: 'card', id: 'proposal-votes' },
    h('h2', {}, t('console.proposal.page.votes')), h('dl', { class: 'facts' }, rows));
}

function commentItem(c, moderator, reload) {
  const reason = h('input', { class: 'hide-reason', maxlength: REASON_MAX, placeholder: t('console.proposal.page.hide_reason') });
  const hide = h('button', {
    type: 'submit', class: 'secondary', 'data-action': 'hide',
  }, t('console.proposal.page.hide'));
  const form = moderator && !c.hidden
    ? h('form', {
      class: 'actions hide-form',
      on: {
        submit: (event) => {
          event.preventDefault();
          act(hide, () => post(`/api/v1/comments/${c.id}/hide`, { reason: reason.value }), reload);
        },
      },
    }, reason, hide)
    : null;
  return h('li', { 'data-comment': c.id, class: c.hidden ? 'comment hidden-comment' : 'comment', 'data-hidden': String(c.hidden) },
    h('div', { class: 'muted' }, formatTime(c.created_at)),
    c.text !== null ? h('p', { class: 'comment-text' }, c.text) : null,
    c.hidden ? h('p', { class: 'hidden-reason' }, t('console.proposal.page.hidden_because', { reason: c.hidden_reason || '' })) : null,
    form);
}

async function commentsCard(p, may, reload) {
  const page = await get(`${base(p.id)}/comments${query({ per_page: 100 })}`);
  const moderator = may.includes('managers');
  return h('section', { class: 'card', id: 'proposal-comments' },
    h('h2', {}, t('console.proposal.page.comments'), ' ', h('span', { class: 'muted' }, formatNumber(page.total))),
    page.items.length
      ? h('ul', { class: 'comments' }, page.items.map((c) => commentItem(c, moderator, reload)))
      : h('p', { class: 'empty' }, t('console.empty')));
}

function details(entry) {
  const show = (part) => (part ? Object.entries(part).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ') : '');
  const before = show(entry.before);
  const after = show(entry.after);
  return before ? `${before} → ${after}` : after;
}

/** The audit trail, a page at a time: for admins only (the server says 403 to others). */
function auditCard(p) {
  const box = h('div', { id: 'audit-table' });
  const pager = h('nav', { class: 'pager' });
  const load = async (page) => {
    const data = await get(`${base(p.id)}/audit${query({ page, per_page: AUDIT_PER_PAGE })}`);
    box.replaceChildren(h('div', { class: 'table-scroll' }, table(
      ['console.proposal.page.audit_at', 'console.proposal.page.audit_actor', 'console.proposal.page.audit_action',
        'console.proposal.page.audit_details'],
      data.items.map((e) => h('tr', { 'data-audit': e.action },
        td(formatTime(e.at)), td(e.actor), td(e.action), td(details(e), { class: 'audit-details' }))),
      { id: 'audit' })));
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    const go = (to) => (event) => act(event.currentTarget, () => load(to));
    pager.replaceChildren(
      h('button', { type: 'button', disabled: page <= 1, on: { click: go(page - 1) } }, t('console.households.prev')),
      h('span', {}, t('console.households.page', { page, pages })),
      h('button', { type: 'button', disabled: page >= pages, on: { click: go(page + 1) } }, t('console.households.next')));
  };
  const card = h('section', { class: 'card', id: 'proposal-audit' },
    h('h2', {}, t('console.proposal.page.audit')), h('p', { class: 'muted' }, t('console.proposal.page.audit_hint')),
    box, pager);
  return { card, load };
}

/** The proposal's sections around the coverage card: ``top`` before it, ``bottom`` after. */
export async function proposalSections(p, may, reload) {
  const top = [aboutCard(p), votesCard(p), await commentsCard(p, may, reload)];
  const bottom = [];
  if (may.includes('admins')) {
    const audit = auditCard(p);
    await audit.load(1);
    bottom.push(audit.card);
  }
  return { top, bottom };
}

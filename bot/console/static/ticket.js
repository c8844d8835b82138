// One ticket's page (#/ticket?id=N): the report with its photos and place, the reporter as
// the API shows them to this worker, the reports linked to it, every step of its trail, and
// the steps the worker may take now, each with its own note. Photos come through the media
// API with the session's token and are shown from blob: URLs (CSP img-src allows blob:).

import { download, get, post } from './api.js';
import { formatNumber, formatTime, t } from './i18n.js';
import { act, failed, h, main, select } from './ui.js';

const NOTE_MAX = 2000;

/** The uploads ``ids`` as pictures (a voice message as a player), each fetched as a blob. */
export function mediaGallery(ids, id) {
  const list = h('ul', { class: 'gallery', id });
  for (const media of ids || []) {
    const item = h('li', { 'data-media': media }, h('span', { class: 'muted' }, t('console.loading')));
    list.append(item);
    download(`/api/v1/media/${encodeURIComponent(media)}`, media).then(({ blob }) => {
      const url = URL.createObjectURL(blob);
      if ((blob.type || '').startsWith('audio/')) {
        item.replaceChildren(h('audio', { controls: true, src: url }));
        return;
      }
      const picture = h('img', {
        src: url, alt: t('console.ticket.page.photo'), on: { click: () => item.classList.toggle('large') },
      });
      // Once drawn, the picture keeps its pixels: the URL can go.
      picture.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
      item.replaceChildren(picture);
    }).catch((error) => {
      item.replaceChildren(h('span', { class: 'muted' }, t('console.ticket.page.photo_missing')));
      if (error.status === 401) failed(error);
    });
  }
  if (!list.children.length) return h('p', { class: 'muted', id }, t('console.ticket.page.no_photos'));
  return list;
}

const base = (id) => `/api/v1/complaints/${id}`;

function departmentNamer(departments) {
  return (key) => (departments.find((d) => d.key === key)?.name) || key || '';
}

function field(key, ...value) {
  return h('div', { class: 'fact' }, h('dt', {}, t(key)), h('dd', {}, ...value));
}

function place(location) {
  if (!location) return t('console.ticket.page.no_location');
  const lat = Number(location.lat).toFixed(5);
  const lng = Number(location.lng).toFixed(5);
  return t('console.ticket.page.coords', { lat, lng });
}

function reportCard(ticket, named) {
  const due = ticket.due_at
    ? `${formatTime(ticket.due_at)}${ticket.overdue ? ` (${t('console.tickets.overdue')})` : ''}`
    : '';
  return h('section', { class: 'card', id: 'ticket-report' },
    h('h2', {}, t('console.ticket.page.report')),
    ticket.emergency ? h('p', { class: 'badge late', id: 'ticket-emergency' }, t('console.ticket.page.emergency')) : null,
    h('p', { class: 'ticket-text', id: 'ticket-text' }, ticket.text || ''),
    mediaGallery(ticket.media, 'ticket-photos'),
    h('dl', { class: 'facts' },
      field('console.ticket.page.department', named(ticket.department)),
      field('console.ticket.page.received', formatTime(ticket.created_at)),
      due ? field('console.ticket.page.due', due) : null,
      field('console.ticket.page.location', h('span', { id: 'ticket-location' }, place(ticket.location))),
      ticket.building ? field('console.ticket.page.building', ticket.building) : null,
      ticket.resolution ? field('console.ticket.page.resolution', ticket.resolution) : null,
      ticket.referral ? field('console.ticket.page.referral', ticket.referral) : null,
      ticket.stars ? field('console.ticket.page.stars', formatNumber(ticket.stars)) : null));
}

function reporterCard(ticket) {
  const who = ticket.reporter;
  const facts = [];
  if (ticket.anonymous) {
    facts.push(h('p', { id: 'reporter-anonymous' }, t('console.ticket.page.anonymous')));
  } else if (who) {
    facts.push(field('console.ticket.page.reporter_name', h('span', { id: 'reporter-name' }, who.name || `#${who.id}`)));
    // The API names the reporter to staff and gives nobody a phone; whatever it gives is shown.
    if (who.phone) facts.push(field('console.ticket.page.phone', h('a', { id: 'reporter-phone', href: `tel:${who.phone}` }, who.phone)));
    else facts.push(h('p', { class: 'muted', id: 'reporter-no-phone' }, t('console.ticket.page.no_phone')));
  }
  if (ticket.reporters > 1) facts.push(h('p', { class: 'muted' }, t('console.tickets.reporters', { n: ticket.reporters })));
  return h('section', { class: 'card', id: 'ticket-reporter' },
    h('h2', {}, t('console.ticket.page.reporter')), h('dl', { class: 'facts' }, facts));
}

function linkTo(linked) {
  return h('a', { href: `#/ticket?id=${linked.id}`, 'data-link': linked.id },
    `${linked.number} · ${t(`console.ticket.${linked.status}`)}`);
}

function linksCard(ticket) {
  const duplicates = ticket.duplicates || [];
  if (!ticket.original && !duplicates.length) return null;
  return h('section', { class: 'card', id: 'ticket-links' },
    h('h2', {}, t('console.ticket.page.linked')),
    ticket.original
      ? h('p', { id: 'ticket-original' }, `${t('console.ticket.page.duplicate_of')}: `, linkTo(ticket.original))
      : null,
    duplicates.length
      ? h('div', { id: 'ticket-duplicates' }, h('p', {}, t('console.ticket.page.duplicates')),
        h('ul', {}, duplicates.map((d) => h('li', {}, linkTo(d)))))
      : null);
}

function actorLabel(actor) {
  if (actor.kind === 'system') return t('console.ticket.page.actor_system');
  if (actor.kind === 'reporter') {
    return actor.id ? `${t('console.ticket.page.actor_reporter')} ${actor.name || `#${actor.id}`}` : t('console.ticket.page.anonymous');
  }
  return actor.name || `#${actor.id}`;
}

function stepLine(step, named) {
  const parts = [];
  if (step.from_status && step.status && step.from_status !== step.status) {
    parts.push(`${t(`console.ticket.${step.from_status}`)} → ${t(`console.ticket.${step.status}`)}`);
  } else if (step.status) {
    parts.push(t(`console.ticket.${step.status}`));
  }
  if (step.department) {
    parts.push(step.from_department
      ? `${named(step.from_department)} → ${named(step.department)}`
      : t('console.ticket.page.routed_to', { department: named(step.department) }));
  }
  return parts.join(' · ');
}

function timelineCard(ticket, named) {
  const steps = ticket.timeline || [];
  return h('section', { class: 'card', id: 'ticket-timeline' },
    h('h2', {}, t('console.ticket.page.timeline')),
    steps.length
      ? h('ol', { class: 'timeline' }, steps.map((step, index) => h('li', { 'data-step': step.action, 'data-index': index },
        h('div', { class: 'step-head' },
          h('strong', {}, t(`console.ticket.page.step.${step.action}`)), ' ',
          h('span', { class: 'muted' }, `${formatTime(step.at)} · ${actorLabel(step.actor)}`)),
        h('div', { class: 'step-change' }, stepLine(step, named)),
        step.note ? h('p', { class: 'step-note' }, step.note) : null)))
      : h('p', { class: 'empty' }, t('console.empty')));
}

function actionForm(ticket, offer, departments, reload) {
  const note = h('textarea', {
    rows: 2, maxlength: NOTE_MAX, 'data-note': offer.action,
    placeholder: t(offer.needs_note ? 'console.ticket.page.note_required' : 'console.ticket.page.note_optional'),
  });
  const target = offer.action === 'reassign'
    ? select(`ticket-department-${offer.action}`,
      departments.filter((d) => d.key !== ticket.department).map((d) => [d.key, d.name]), '')
    : null;
  const submit = h('button', { type: 'submit', 'data-action': offer.action }, t(`console.ticket.page.do.${offer.action}`));
  return h('form', {
    class: 'ticket-action', 'data-action': offer.action,
    on: {
      submit: (event) => {
        event.preventDefault();
        const body = { note: note.value.trim() || null };
        if (target) body.department = target.value;
        act(submit, () => post(`${base(ticket.id)}/actions/${offer.action}`, body), reload);
      },
    },
  },
  h('label', { class: 'field' }, h('span', {}, t(`console.ticket.page.do.${offer.action}`)), note),
  target ? h('label', { class: 'field' }, h('span', {}, t('console.tickets.department')), target) : null,
  submit);
}

function actionsCard(ticket, departments, reload) {
  const offers = ticket.actions || [];
  return h('section', { class: 'card no-print', id: 'ticket-actions' },
    h('h2', {}, t('console.ticket.page.actions')),
    offers.length
      ? h('div', { class: 'action-forms' }, offers.map((offer) => actionForm(ticket, offer, departments, reload)))
      : h('p', { class: 'muted', id: 'ticket-no-actions' }, t('console.ticket.page.no_actions')));
}

/** ``#/ticket?id=N``: one ticket as the worker may see it, and what they may do with it. */
export async function ticketPage() {
  const id = Number(new URLSearchParams(location.hash.split('?')[1] || '').get('id'));
  const [ticket, figures] = await Promise.all([get(base(id)), get('/api/v1/dashboard')]);
  const departments = figures.departments || [];
  const named = departmentNamer(departments);
  main().replaceChildren(
    h('div', { class: 'page-head' },
      h('h1', { id: 'ticket-number' }, ticket.number),
      h('a', { href: '#/tickets', class: 'button-link no-print' }, t('console.ticket.page.back'))),
    h('p', { id: 'ticket-status', 'data-status': ticket.status },
      t(`console.ticket.${ticket.status}`),
      ticket.escalated ? h('span', { class: 'badge escalated' }, t('console.tickets.escalated')) : null,
      ticket.overdue ? h('span', { class: 'badge late' }, t('console.tickets.overdue')) : null),
    h('div', { class: 'detail-grid' },
      h('div', {}, reportCard(ticket, named), timelineCard(ticket, named)),
      h('div', {}, reporterCard(ticket), linksCard(ticket), actionsCard(ticket, departments, ticketPage))));
}

// Volunteer activities: the list with each shift's attendance, and one activity's page
// (#/activity?id=N) where a shift that has not started can be moved or given more or
// fewer places. The server decides who may and what is allowed; its refusal is shown.

import { api, get } from './api.js';
import { formatTime, t } from './i18n.js';
import {
  act, failed, h, heading, labelled, main, showMessage, table, td, tr,
} from './ui.js';

// Times are the community's wall clock (Beijing, no daylight saving): what a worker types
// in a datetime-local field is read as +08:00, whatever the computer's own time zone.
const ZONE = 'Asia/Shanghai';
const OFFSET = '+08:00';

function localInput(iso) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hour12: false,
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  const hour = parts.hour === '24' ? '00' : parts.hour;
  return `${parts.year}-${parts.month}-${parts.day}T${hour}:${parts.minute}`;
}

const instant = (value) => `${value}:00${OFFSET}`;

async function showAttendance(shift, box) {
  const data = await get(`/api/v1/volunteers/shifts/${shift.id}/attendance`);
  box.replaceChildren(table(
    ['console.volunteers.volunteer', 'console.proposals.status', 'console.volunteers.checked_in',
      'console.volunteers.checked_out', 'console.volunteers.minutes', 'console.volunteers.points'],
    data.items.map((row) => tr(
      td(row.volunteer.name || `#${row.volunteer.id}`), td(t(`console.signup.${row.status}`)),
      td(formatTime(row.checked_in_at)), td(formatTime(row.checked_out_at)),
      td(row.minutes ?? '', { class: 'num' }), td(row.points ?? '', { class: 'num' }))),
    { class: 'attendance', 'data-attendance': shift.id },
  ));
}

function attendanceButton(shift, box) {
  return h('button', {
    type: 'button', 'data-action': 'attendance',
    on: { click: (event) => act(event.currentTarget, () => showAttendance(shift, box)) },
  }, t('console.volunteers.attendance'));
}

export async function volunteersPage() {
  const page = await get('/api/v1/volunteers/activities?all=true&per_page=50');
  const cards = page.items.map((activity) => h('section', { class: 'card activity', 'data-activity': activity.id },
    h('h2', {}, h('a', { href: `#/activity?id=${activity.id}`, 'data-open': activity.id }, activity.title)),
    activity.place ? h('p', { class: 'muted' }, `${t('console.volunteers.place')}: ${activity.place}`) : null,
    h('ul', { class: 'shifts' }, activity.shifts.map((shift) => {
      const box = h('div', { class: 'attendance-box' });
      return h('li', { 'data-shift': shift.id },
        h('span', {}, `${formatTime(shift.starts_at)} – ${formatTime(shift.ends_at)}`), ' ',
        h('span', { class: 'muted' }, t('console.volunteers.capacity', shift)), ' ',
        attendanceButton(shift, box),
        box);
    })),
    h('p', {}, h('a', { href: `#/activity?id=${activity.id}`, class: 'activity-open' }, t('console.activity.open')))));
  main().replaceChildren(heading('console.volunteers.heading'), ...(cards.length ? cards : [h('p', { class: 'empty' }, t('console.empty'))]));
}

// --- one activity ----------------------------------------------------------------------

function shiftForm(shift, reload) {
  const starts = h('input', { type: 'datetime-local', name: 'starts_at', required: true, value: localInput(shift.starts_at) });
  const ends = h('input', { type: 'datetime-local', name: 'ends_at', required: true, value: localInput(shift.ends_at) });
  const capacity = h('input', { type: 'number', name: 'capacity', min: 1, required: true, value: shift.capacity });
  const save = h('button', { type: 'submit', 'data-action': 'save-shift' }, t('console.activity.save'));
  return h('form', {
    class: 'shift-form', 'data-shift-form': shift.id,
    on: {
      submit: (event) => {
        event.preventDefault();
        const change = {};
        if (starts.value !== localInput(shift.starts_at)) change.starts_at = instant(starts.value);
        if (ends.value !== localInput(shift.ends_at)) change.ends_at = instant(ends.value);
        if (Number(capacity.value) !== shift.capacity) change.capacity = Number(capacity.value);
        act(save, () => api('PATCH', `/api/v1/shifts/${shift.id}`, change), async (done) => {
          await reload();
          showMessage(t('console.activity.saved', { told: done.told, promoted: done.promoted.length }), 'ok');
        });
      },
    },
  },
  labelled('console.activity.starts', starts),
  labelled('console.activity.ends', ends),
  labelled('console.activity.capacity', capacity),
  save);
}

function shiftCard(shift, now, reload) {
  const started = new Date(shift.starts_at).getTime() <= now;
  const box = h('div', { class: 'attendance-box' });
  return h('article', { class: 'card shift', 'data-shift': shift.id, 'data-started': String(started) },
    h('h3', {}, `${formatTime(shift.starts_at)} – ${formatTime(shift.ends_at)}`),
    h('p', { class: 'muted', 'data-places': shift.id }, t('console.activity.signed_up', shift)),
    started
      ? h('p', { class: 'muted shift-started' }, t('console.activity.started'))
      : h('details', { class: 'shift-edit' }, h('summary', {}, t('console.activity.edit')), shiftForm(shift, reload)),
    h('div', { class: 'actions' }, attendanceButton(shift, box)),
    box);
}

export async function activityPage() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const id = Number(params.get('id'));
  const list = h('div', { id: 'activity-shifts', class: 'shift-cards' });
  const load = async () => {
    const activity = await get(`/api/v1/volunteers/activities/${encodeURIComponent(id || 0)}`);
    const now = Date.now();
    list.replaceChildren(...(activity.shifts.length
      ? activity.shifts.map((shift) => shiftCard(shift, now, () => load().catch(failed)))
      : [h('p', { class: 'empty' }, t('console.empty'))]));
    return activity;
  };
  const activity = await load();
  main().replaceChildren(
    h('div', { class: 'page-head' }, h('h1', { id: 'activity-title' }, activity.title),
      h('a', { href: '#/volunteers', class: 'back' }, t('console.activity.back'))),
    h('section', { class: 'card activity-about', 'data-activity': activity.id },
      activity.place ? h('p', {}, `${t('console.volunteers.place')}: ${activity.place}`) : null,
      activity.description ? h('p', { class: 'text' }, activity.description) : null),
    h('h2', {}, t('console.activity.shifts')),
    list,
  );
}

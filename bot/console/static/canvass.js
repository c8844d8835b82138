// A grid worker's round of the doors, made for a phone: choose an open vote, see the
// households of your grids still to visit, and record each visit: an answer (who gave it,
// and how: orally, or on the signed form, photographed) or why there was none.

import { get, post, query, upload } from './api.js';
import { formatTime, t } from './i18n.js';
import { reachSummary } from './coverage.js';
import { clearMessage, failed, h, heading, labelled, main, select, showMessage } from './ui.js';

const OUTCOMES = ['answered', 'not_home', 'refused', 'vacant', 'moved_out', 'other'];
const CHOICES = ['yes', 'no', 'abstain'];
const METHODS = ['oral', 'form'];
const PHOTOS_MAX = 9;
const RESPONDENT_MAX = 64;
const NOTE_MAX = 500;

const base = (id) => `/api/v1/proposals/${id}`;

export const doorLabel = (door) => [door.building, door.unit, door.room].filter(Boolean).join('-');

/** Upload one photo (of a signed form) to the media API: its id, to attach to the visit. */
export async function uploadPhoto(file) {
  return (await upload('/api/v1/media', file)).id;
}

function radios(name, values, label, required = false) {
  return h('div', { class: 'choices', role: 'radiogroup', 'data-group': name },
    values.map((value) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name, value, required }),
      h('span', {}, label(value)))));
}

function group(key, control, attrs = {}) {
  return h('fieldset', attrs, h('legend', {}, t(key)), control);
}

const chosen = (form, name) => form.querySelector(`input[name="${name}"]:checked`)?.value ?? null;

/** The photos of a signed form: each uploaded as soon as it is taken, listed, removable. */
function photoPicker(onBusy) {
  const ids = [];
  const list = h('ul', { class: 'photos', id: 'visit-photos' });
  const status = h('p', { class: 'muted', id: 'visit-photo-status', 'aria-live': 'polite' });
  const input = h('input', { type: 'file', accept: 'image/*', capture: 'environment', id: 'visit-photo' });
  const redraw = () => {
    list.replaceChildren(...ids.map((id, index) => h('li', { 'data-media': id },
      h('span', {}, t('console.canvass.photo_done', { n: index + 1 })), ' ',
      h('button', {
        type: 'button', class: 'secondary',
        on: { click: () => { ids.splice(index, 1); redraw(); } },
      }, t('console.canvass.photo_remove')))));
    input.disabled = ids.length >= PHOTOS_MAX;
  };
  input.addEventListener('change', async () => {
    const file = input.files[0];
    if (!file) return;
    onBusy(true);
    status.textContent = t('console.canvass.photo_uploading');
    try {
      ids.push(await uploadPhoto(file));
      clearMessage();
      redraw();
    } catch (error) {
      failed(error);
    } finally {
      status.textContent = '';
      input.value = '';
      onBusy(false);
    }
  });
  // The native picker's own words are the browser's: a big button in ours opens it instead.
  const button = h('label', { class: 'photo-button' }, t('console.canvass.photo'), input);
  return { ids, node: h('div', { class: 'photo-picker' }, button, status, list) };
}

function visitForm(vote, door, done, back) {
  const submit = h('button', { type: 'submit', id: 'visit-submit' }, t('console.canvass.submit'));
  const photos = photoPicker((busy) => { submit.disabled = busy; });
  const respondent = h('input', {
    id: 'visit-respondent', maxlength: RESPONDENT_MAX, required: true, placeholder: t('console.canvass.respondent_hint'),
  });
  const note = h('textarea', { id: 'visit-note', rows: 3, maxlength: NOTE_MAX, placeholder: t('console.canvass.note_hint') });
  const photoBox = h('div', { id: 'visit-photo-box', hidden: true }, photos.node);
  // A disabled fieldset is neither shown nor validated: an answer's fields only for an answer.
  const answer = h('fieldset', { id: 'visit-answer', class: 'answer', disabled: true, hidden: true },
    group('console.canvass.choice', radios('choice', CHOICES, (c) => t(`console.dashboard.${c}`), true)),
    labelled('console.canvass.respondent', respondent),
    group('console.canvass.method', radios('method', METHODS, (m) => t(`console.canvass.method.${m}`), true)),
    photoBox);
  const form = h('form', { class: 'card visit-form', id: 'visit-form', 'data-door': door.household_id },
    h('h2', {}, doorLabel(door)),
    group('console.canvass.outcome', radios('outcome', OUTCOMES, (o) => t(`console.canvass.outcome.${o}`), true)),
    answer,
    labelled('console.canvass.note', note),
    h('div', { class: 'submit-row' },
      h('button', { type: 'button', class: 'secondary', id: 'visit-back', on: { click: back } }, t('console.canvass.cancel')),
      submit));
  form.addEventListener('change', () => {
    const outcome = chosen(form, 'outcome');
    answer.disabled = answer.hidden = outcome !== 'answered';
    photoBox.hidden = chosen(form, 'method') !== 'form';
    note.required = outcome === 'other';
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const outcome = chosen(form, 'outcome');
    const body = { household_id: door.household_id, outcome, note: note.value };
    if (outcome === 'answered') {
      Object.assign(body, { choice: chosen(form, 'choice'), respondent: respondent.value, method: chosen(form, 'method') });
      if (body.method === 'form') body.media = [...photos.ids];
    }
    submit.disabled = true;
    clearMessage();
    try {
      await post(`${base(vote.id)}/visits`, body);
    } catch (error) {
      failed(error);
      submit.disabled = false;
      return;
    }
    try {
      await done(t('console.canvass.recorded', { door: doorLabel(door) }));
    } catch (error) {
      failed(error);
    }
  });
  return form;
}

function doorItem(door, open) {
  const visits = door.visits.map((v) => `${t(`console.canvass.outcome.${v.outcome}`)} ${formatTime(v.at)}`);
  return h('li', {},
    h('button', {
      type: 'button', class: 'door', 'data-door': door.household_id, 'data-state': door.state,
      on: { click: () => open(door) },
    },
    h('span', { class: 'door-name' }, doorLabel(door)),
    h('span', { class: `badge state-${door.state}` }, t(`console.canvass.state.${door.state}`)),
    visits.length ? h('span', { class: 'muted visits' }, visits.join(' · ')) : null));
}

/** The progress of the caller's grids and their doors still to visit; a tap opens the form. */
async function showDoors(vote, box, filter) {
  const [coverage, doors] = await Promise.all([get(`${base(vote.id)}/coverage`), get(`${base(vote.id)}/doors`)]);
  const buildings = [...new Set(doors.items.map((d) => d.building))];
  const list = h('ul', { class: 'doors', id: 'doors' });
  const fill = () => list.replaceChildren(...doors.items
    .filter((d) => !filter.building || d.building === filter.building).map((d) => doorItem(d, open)));
  const again = async (message) => {
    await showDoors(vote, box, filter);
    if (message) showMessage(message, 'ok');
  };
  function open(door) {
    clearMessage();
    box.replaceChildren(visitForm(vote, door, again, () => again()));
    window.scrollTo(0, 0);
  }
  const chooser = select('canvass-building',
    [['', t('console.canvass.all_buildings')], ...buildings.map((b) => [b, b])], filter.building,
    (event) => { filter.building = event.target.value; fill(); });
  fill();
  box.replaceChildren(
    h('section', { class: 'card', id: 'canvass-progress' }, h('h2', {}, t('console.canvass.progress')), reachSummary(coverage.total)),
    h('section', { class: 'card' },
      h('h2', { id: 'doors-count', 'data-count': doors.items.length }, t('console.canvass.doors', { n: doors.items.length })),
      doors.items.length
        ? [buildings.length > 1 ? chooser : null, list]
        : h('p', { class: 'empty', id: 'doors-done' }, t('console.canvass.all_done'))));
}

/** ``#/canvass?proposal=N``: the open votes to choose from, then that vote's doors. */
export async function canvassPage() {
  const votes = (await get(`/api/v1/proposals${query({ status: 'voting', per_page: 100 })}`)).items;
  const wanted = new URLSearchParams(location.hash.split('?')[1] || '').get('proposal');
  const vote = votes.find((v) => String(v.id) === wanted) || (votes.length === 1 ? votes[0] : null);
  const chooser = select('canvass-vote',
    [['', t('console.canvass.choose')], ...votes.map((v) => [String(v.id), v.title])], vote ? String(vote.id) : '',
    (event) => { location.hash = `#/canvass${query({ proposal: event.target.value })}`; });
  const box = h('div', { id: 'canvass-body' });
  main().replaceChildren(heading('console.canvass.heading'),
    votes.length
      ? h('section', { class: 'card' }, labelled('console.canvass.vote', chooser))
      : h('p', { class: 'empty', id: 'no-votes' }, t('console.canvass.no_votes')),
    box);
  if (vote) await showDoors(vote, box, { building: '' });
}

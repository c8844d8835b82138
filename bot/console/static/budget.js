// The yearly micro-projects round: the rounds, one round's phases and its advance, the menu,
// coverage and paper ballots while households order, the result, and the money in the open.
// Managers run the round; grid workers see the doors and the coverage of their grids.
// Money comes and goes as strings ("12345.60"), never as floats.

import { api, download, get, post, query } from './api.js';
import { doorLabel, uploadPhoto } from './canvass.js';
import { barChart } from './charts.js';
import { reachSummary } from './coverage.js';
import { formatNumber, formatTime, locale, t } from './i18n.js';
import {
  act, clearMessage, failed, h, heading, labelled, main, saveFile, select, showMessage, table, td, tr,
} from './ui.js';

const BASE = '/api/v1/budget/rounds';
const PHASES = ['collection', 'review', 'publicity', 'ordering', 'result', 'implementation', 'finished'];
const PLANNED = PHASES.slice(0, 6);
const MENU_OPEN = ['collection', 'review'];
const SPENDING = ['result', 'implementation'];
const SOURCE_KINDS = ['government', 'street', 'grant', 'residents', 'donation', 'foundation'];
const RULES = ['fit', 'any', 'three'];
const OUTCOMES = ['answered', 'not_home', 'refused', 'vacant', 'moved_out', 'other'];
const METHODS = ['oral', 'form'];
const VIEWS = ['menu', 'doors', 'result', 'money'];
const PHOTOS_MAX = 9;

// replaceChildren would write a null as the text "null": what is not shown is left out.
const put = (node, ...children) => node.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
const listOf = (data) => (Array.isArray(data) ? data : data?.items || []);
const params = () => new URLSearchParams(location.hash.split('?')[1] || '');
const go = (changes) => { location.hash = `#/budget${query(changes)}`; };
// After a change the page is drawn again from the server, keeping the message shown.
const reload = () => budgetPage();

/** A sum of money as the page shows it, from the API's string; the string stays the truth. */
export function formatMoney(value) {
  if (value === null || value === undefined || value === '') return '—';
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 })
    .format(Number(value));
}

const money = (value, key) => td(formatMoney(value), { class: 'num', 'data-col': key, 'data-value': value ?? '' });

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

// --- the rounds -------------------------------------------------------------------------

/** Rows of fund sources (kind, name, amount): add and remove; ``value()`` is the body. */
function sourcesEditor(initial) {
  const rows = h('div', { class: 'budget-sources', id: 'budget-sources' });
  const add = (source = {}) => {
    const kind = select('', SOURCE_KINDS.map((k) => [k, t(`console.budget.source.${k}`)]), source.kind || 'government');
    kind.removeAttribute('id');
    kind.className = 'source-kind';
    const name = h('input', { class: 'source-name', maxlength: 100, value: source.name || '', placeholder: t('console.budget.source_name') });
    const amount = h('input', {
      class: 'source-amount', inputmode: 'decimal', required: true, value: source.amount || '', placeholder: t('console.budget.amount'),
    });
    const row = h('div', { class: 'source-row' }, kind, name, amount,
      h('button', { type: 'button', class: 'secondary', on: { click: () => row.remove() } }, t('console.budget.remove')));
    rows.append(row);
  };
  (initial.length ? initial : [{}]).forEach(add);
  return {
    node: h('div', {}, rows,
      h('button', { type: 'button', class: 'secondary', id: 'budget-add-source', on: { click: () => add() } }, t('console.budget.add_source'))),
    value: () => [...rows.querySelectorAll('.source-row')].map((row) => ({
      kind: row.querySelector('.source-kind').value,
      name: row.querySelector('.source-name').value,
      amount: row.querySelector('.source-amount').value.trim(),
    })),
  };
}

function newRoundForm() {
  const year = new Date().getFullYear();
  const yearInput = h('input', { id: 'round-year', type: 'number', min: 2000, max: 2100, value: year, required: true });
  const title = h('input', { id: 'round-title', maxlength: 100, required: true });
  const rule = select('round-rule', RULES.map((r) => [r, t(`console.budget.rule.${r}`)]), 'fit');
  const dates = PLANNED.map((phase) => h('input', { type: 'date', 'data-phase': phase, required: true }));
  const sources = sourcesEditor([]);
  const submit = h('button', { type: 'submit', id: 'round-create' }, t('console.budget.create'));
  return h('form', {
    id: 'round-form', class: 'card no-print',
    on: {
      submit: (event) => {
        event.preventDefault();
        const body = {
          year: Number(yearInput.value),
          title: title.value,
          rule: rule.value,
          phases: Object.fromEntries(dates.map((d) => [d.dataset.phase, d.value])),
          sources: sources.value(),
        };
        act(submit, () => post(BASE, body), (made) => go({ id: made.id }));
      },
    },
  },
  h('h2', {}, t('console.budget.new')),
  h('div', { class: 'budget-fields' },
    labelled('console.budget.year', yearInput), labelled('console.budget.title', title), labelled('console.budget.rule', rule)),
  h('fieldset', { class: 'budget-plan' }, h('legend', {}, t('console.budget.plan')),
    PLANNED.map((phase, i) => labelled(`console.budget.phase.${phase}`, dates[i]))),
  h('fieldset', {}, h('legend', {}, t('console.budget.sources')), sources.node),
  submit);
}

async function roundsList(may) {
  const rounds = listOf(await get(BASE));
  const rows = rounds.map((r) => h('tr', { 'data-round': r.id, 'data-status': r.status },
    td(String(r.year)),
    td(h('a', { href: `#/budget?id=${r.id}` }, r.title), { class: 'title' }),
    td(t(`console.budget.phase.${r.status}`), { class: 'status' }),
    r.fund !== undefined ? money(r.fund, 'fund') : td('')));
  put(main(),
    heading('console.budget.heading'),
    h('section', { class: 'card' }, table(
      ['console.budget.year', 'console.budget.title', 'console.budget.status', 'console.budget.fund'], rows, { id: 'rounds' })),
    may.includes('managers') ? newRoundForm() : null);
}

// --- one round: its phases and its advance ----------------------------------------------

function timeline(round) {
  const at = PHASES.indexOf(round.status);
  return h('ol', { class: 'phases', id: 'round-phases' }, PHASES.map((phase, i) => h('li', {
    class: `phase ${i < at ? 'done' : i === at ? 'current' : 'planned'}`, 'data-phase': phase,
    'aria-current': i === at ? 'step' : null,
  },
  h('span', { class: 'phase-name' }, t(`console.budget.phase.${phase}`)),
  round.phases?.[phase] ? h('span', { class: 'muted phase-date' }, round.phases[phase]) : null)));
}

function advancePanel(round, coverage, may) {
  if (!may.includes('managers') || round.status === 'finished') return null;
  const next = PHASES[PHASES.indexOf(round.status) + 1];
  const button = h('button', {
    type: 'button', id: 'round-advance',
    on: { click: (event) => act(event.currentTarget, () => post(`${BASE}/${round.id}/advance`, {}), reload) },
  }, t('console.budget.advance', { phase: t(`console.budget.phase.${next}`) }));
  const missing = coverage?.total?.not_reached || 0;
  let override = null;
  if (round.status === 'ordering' && may.includes('admins') && coverage?.coverage_rule === 'all' && missing > 0) {
    const reason = h('textarea', { id: 'round-override-reason', rows: 3, maxlength: 500, required: true });
    const submit = h('button', { type: 'submit', id: 'round-override' }, t('console.budget.override_confirm'));
    override = h('form', {
      class: 'override', id: 'round-override-form',
      on: {
        submit: (event) => {
          event.preventDefault();
          act(submit, () => post(`${BASE}/${round.id}/advance`, { override: reason.value }), reload);
        },
      },
    },
    h('h3', {}, t('console.coverage.override')),
    h('p', { class: 'muted' }, t('console.coverage.override_hint', { not_reached: formatNumber(missing) })),
    h('label', { class: 'field' }, h('span', {}, t('console.coverage.override_reason')), reason),
    submit);
  }
  return h('div', { class: 'actions', id: 'round-actions' }, button, override);
}

// The record (one row per household) is the managers' to keep; the poster and report are public.
function filesPanel(round, may) {
  const after = PHASES.indexOf(round.status) >= PHASES.indexOf('result');
  if (!after) return null;
  const path = `${BASE}/${round.id}`;
  return h('div', { class: 'actions', id: 'round-files' },
    fileButton('round-poster', 'console.budget.poster', `${path}/poster.pdf`, `round-${round.id}.pdf`),
    may.includes('managers')
      ? fileButton('round-record', 'console.budget.record', `${path}/record.xlsx`, `round-${round.id}.xlsx`)
      : null,
    fileButton('round-report-pdf', 'console.budget.report_pdf', `${path}/report.pdf`, `round-${round.id}-report.pdf`),
    fileButton('round-report-xlsx', 'console.budget.report_xlsx', `${path}/report.xlsx`, `round-${round.id}-report.xlsx`));
}

function tabs(round, view) {
  return h('nav', { class: 'tabs no-print', id: 'round-tabs' }, VIEWS.map((v) => h('a', {
    href: `#/budget${query({ id: round.id, view: v })}`, 'data-view': v, class: v === view ? 'active' : null,
  }, t(`console.budget.view.${v}`))));
}

// --- the menu ---------------------------------------------------------------------------

function menuRow(round, item, editable) {
  const actions = [];
  if (editable && item.status === 'listed') {
    const cost = h('input', { class: 'item-cost', inputmode: 'decimal', value: item.cost, 'aria-label': t('console.budget.cost') });
    const responsible = h('input', { class: 'item-responsible', maxlength: 100, value: item.responsible, 'aria-label': t('console.budget.responsible') });
    const reason = h('input', { class: 'reason item-reason', maxlength: 500, placeholder: t('console.budget.withdraw_reason') });
    actions.push(cost, responsible,
      h('button', {
        type: 'button', 'data-action': 'save',
        on: {
          click: (event) => act(event.currentTarget, () => api('PATCH', `${BASE}/${round.id}/menu/${item.number}`,
            { cost: cost.value.trim(), responsible: responsible.value }), reload),
        },
      }, t('console.budget.save')),
      reason,
      h('button', {
        type: 'button', class: 'danger', 'data-action': 'withdraw',
        on: {
          click: (event) => act(event.currentTarget, () => post(`${BASE}/${round.id}/menu/${item.number}/withdraw`,
            { reason: reason.value }), reload),
        },
      }, t('console.budget.withdraw')));
  }
  return h('tr', { 'data-item': item.number, 'data-status': item.status },
    td(String(item.number), { class: 'num' }),
    td(item.title, { class: 'title' }),
    money(item.cost, 'cost'),
    td(item.responsible, { 'data-col': 'responsible' }),
    td(t(`console.budget.origin.${item.origin}`)),
    td(t(`console.budget.item.${item.status}`), { class: 'status' }),
    td(actions.length ? h('div', { class: 'actions' }, actions) : ''));
}

function itemForm(round) {
  const proposal = h('input', { id: 'item-proposal', type: 'number', min: 1, placeholder: t('console.budget.proposal_hint') });
  const title = h('input', { id: 'item-title', maxlength: 100 });
  const description = h('textarea', { id: 'item-description', rows: 3, maxlength: 2000 });
  const cost = h('input', { id: 'item-cost', inputmode: 'decimal', required: true });
  const responsible = h('input', { id: 'item-responsible', maxlength: 100, required: true });
  const submit = h('button', { type: 'submit', id: 'item-add' }, t('console.budget.add_item'));
  return h('form', {
    id: 'item-form', class: 'card no-print',
    on: {
      submit: (event) => {
        event.preventDefault();
        const form = event.currentTarget;
        const body = { cost: cost.value.trim(), responsible: responsible.value };
        if (proposal.value) body.proposal_id = Number(proposal.value);
        if (title.value.trim()) body.title = title.value;
        if (description.value.trim()) body.description = description.value;
        act(submit, () => post(`${BASE}/${round.id}/menu`, body), () => { form.reset(); return reload(); });
      },
    },
  },
  h('h2', {}, t('console.budget.new_item')),
  h('p', { class: 'muted' }, t('console.budget.item_hint')),
  h('div', { class: 'budget-fields' },
    labelled('console.budget.from_proposal', proposal), labelled('console.budget.item_title', title),
    labelled('console.budget.cost', cost), labelled('console.budget.responsible', responsible)),
  labelled('console.budget.description', description),
  submit);
}

async function menuView(round, may, box) {
  const items = listOf(await get(`${BASE}/${round.id}/menu`));
  const editable = may.includes('managers') && MENU_OPEN.includes(round.status);
  put(box,
    h('section', { class: 'card' }, h('h2', {}, t('console.budget.menu')), h('div', { class: 'table-scroll' }, table(
      ['console.budget.number', 'console.budget.item_title', 'console.budget.cost', 'console.budget.responsible',
        'console.budget.origin', 'console.budget.status', 'console.proposals.actions'],
      items.map((item) => menuRow(round, item, editable)), { id: 'budget-menu' }))),
    editable ? itemForm(round) : null);
}

// --- coverage and paper ballots ---------------------------------------------------------

function countsTable(rows, key, id) {
  const reach = ['online', 'in_person', 'visited', 'not_reached'];
  return h('div', { class: 'table-scroll' }, table(
    [key, 'console.coverage.reached', ...reach.map((k) => `console.coverage.${k}`)],
    rows.map((r) => h('tr', { 'data-name': r.grid ?? r.building },
      td(r.grid ?? r.building),
      td(`${formatNumber(r.reached)} / ${formatNumber(r.eligible)}`, { class: 'num', 'data-col': 'reached' }),
      reach.map((k) => td(formatNumber(r[k]), { class: 'num', 'data-col': k })))),
    { id }));
}

function radios(name, values, label) {
  return h('div', { class: 'choices', role: 'radiogroup', 'data-group': name },
    values.map((value) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name, value, required: true }), h('span', {}, label(value)))));
}

const chosen = (form, name) => form.querySelector(`input[name="${name}"]:checked`)?.value ?? null;

function photos(onBusy, labelKey = 'console.canvass.photo') {
  const ids = [];
  const list = h('ul', { class: 'photos', id: 'ballot-photos' });
  const input = h('input', { type: 'file', accept: 'image/*', capture: 'environment', id: 'ballot-photo' });
  const redraw = () => {
    list.replaceChildren(...ids.map((id, i) => h('li', { 'data-media': id },
      h('span', {}, t('console.canvass.photo_done', { n: i + 1 })), ' ',
      h('button', { type: 'button', class: 'secondary', on: { click: () => { ids.splice(i, 1); redraw(); } } },
        t('console.canvass.photo_remove')))));
    input.disabled = ids.length >= PHOTOS_MAX;
  };
  input.addEventListener('change', async () => {
    const file = input.files[0];
    if (!file) return;
    onBusy(true);
    try {
      ids.push(await uploadPhoto(file));
      clearMessage();
      redraw();
    } catch (error) {
      failed(error);
    } finally {
      input.value = '';
      onBusy(false);
    }
  });
  return { ids, node: h('div', { class: 'photo-picker' }, h('label', { class: 'photo-button' }, t(labelKey), input), list) };
}

function ballotForm(round, door, menu, done) {
  const submit = h('button', { type: 'submit', id: 'ballot-submit' }, t('console.canvass.submit'));
  const picker = photos((busy) => { submit.disabled = busy; });
  const respondent = h('input', { id: 'ballot-respondent', maxlength: 64, required: true, placeholder: t('console.canvass.respondent_hint') });
  const note = h('textarea', { id: 'ballot-note', rows: 3, maxlength: 500, placeholder: t('console.canvass.note_hint') });
  const photoBox = h('div', { id: 'ballot-photo-box', hidden: true }, picker.node);
  const picks = h('div', { class: 'choices picks', id: 'ballot-items' }, menu.map((item) => h('label', { class: 'choice' },
    h('input', { type: 'checkbox', name: 'item', value: item.number }),
    h('span', {}, `${item.number}. ${item.title} · ${formatMoney(item.cost)}`))));
  const answer = h('fieldset', { id: 'ballot-answer', class: 'answer', disabled: true, hidden: true },
    h('fieldset', {}, h('legend', {}, t('console.budget.ballot_items')), picks),
    labelled('console.canvass.respondent', respondent),
    h('fieldset', {}, h('legend', {}, t('console.canvass.method')), radios('method', METHODS, (m) => t(`console.canvass.method.${m}`))),
    photoBox);
  const form = h('form', { class: 'card visit-form', id: 'ballot-form', 'data-door': door.household_id },
    h('h2', {}, doorLabel(door)),
    h('fieldset', {}, h('legend', {}, t('console.canvass.outcome')), radios('outcome', OUTCOMES, (o) => t(`console.canvass.outcome.${o}`))),
    answer,
    labelled('console.canvass.note', note),
    h('div', { class: 'submit-row' },
      h('button', { type: 'button', class: 'secondary', id: 'ballot-back', on: { click: () => done() } }, t('console.canvass.cancel')),
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
      Object.assign(body, {
        items: [...picks.querySelectorAll('input:checked')].map((box) => Number(box.value)),
        respondent: respondent.value,
        method: chosen(form, 'method'),
        media: chosen(form, 'method') === 'form' ? [...picker.ids] : [],
      });
    }
    submit.disabled = true;
    clearMessage();
    try {
      await post(`${BASE}/${round.id}/ballots`, body);
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

async function doorsView(round, may, box) {
  if (!round.rule && PHASES.indexOf(round.status) < PHASES.indexOf('ordering')) {
    box.replaceChildren(h('p', { class: 'empty', id: 'budget-not-ordering' }, t('console.budget.not_ordering')));
    return;
  }
  const [coverage, doors, menu] = await Promise.all([
    get(`${BASE}/${round.id}/coverage`),
    round.status === 'ordering' ? get(`${BASE}/${round.id}/doors`) : { items: [] },
    get(`${BASE}/${round.id}/menu`),
  ]);
  const listed = listOf(menu).filter((item) => item.status === 'listed');
  const again = async (message) => {
    await doorsView(round, may, box);
    if (message) showMessage(message, 'ok');
  };
  const list = h('ul', { class: 'doors', id: 'ballot-doors' }, listOf(doors).map((door) => h('li', {},
    h('button', {
      type: 'button', class: 'door', 'data-door': door.household_id, 'data-state': door.state,
      on: {
        click: () => {
          clearMessage();
          box.replaceChildren(ballotForm(round, door, listed, again));
          window.scrollTo(0, 0);
        },
      },
    },
    h('span', { class: 'door-name' }, doorLabel(door)),
    h('span', { class: `badge state-${door.state}` }, t(`console.canvass.state.${door.state}`))))));
  put(box,
    h('section', { class: 'card', id: 'budget-coverage', 'data-rule': coverage.coverage_rule },
      h('h2', {}, t('console.coverage.heading')),
      coverage.coverage_rule === 'all' ? h('p', { class: 'muted' }, t('console.budget.rule_all')) : null,
      reachSummary(coverage.total),
      h('h3', {}, t('console.budget.by_grid')),
      countsTable(coverage.grids || [], 'console.budget.grid', 'budget-grids'),
      h('h3', {}, t('console.budget.by_building')),
      countsTable(coverage.buildings || [], 'console.households.building', 'budget-buildings')),
    round.status === 'ordering'
      ? h('section', { class: 'card' },
        h('h2', { id: 'ballot-doors-count', 'data-count': listOf(doors).length }, t('console.canvass.doors', { n: listOf(doors).length })),
        listOf(doors).length ? list : h('p', { class: 'empty' }, t('console.canvass.all_done')))
      : null);
}

// --- the result -------------------------------------------------------------------------

async function resultView(round, may, box) {
  if (PHASES.indexOf(round.status) < PHASES.indexOf('result')) {
    box.replaceChildren(h('p', { class: 'empty', id: 'budget-no-result' }, t('console.budget.no_result')));
    return;
  }
  const data = await get(`${BASE}/${round.id}/result`);
  const result = data.result || data;
  const funded = new Set((result.funded || []).map(Number));
  const items = [...(result.items || [])].sort((a, b) => a.rank - b.rank || a.number - b.number);
  const rows = items.map((r) => h('tr', {
    'data-item': r.number, 'data-standing': r.standing, class: funded.has(r.number) ? 'funded' : null,
  },
  td(String(r.rank ?? ''), { class: 'num' }),
  td(String(r.number), { class: 'num' }),
  td(r.title, { class: 'title' }),
  money(r.cost, 'cost'),
  td(formatNumber(r.support), { class: 'num', 'data-col': 'support' }),
  td(formatNumber(r.needed), { class: 'num', 'data-col': 'needed' }),
  td(t(`console.budget.standing.${r.standing}`), { class: 'standing' })));
  const byNumber = [...items].sort((a, b) => a.number - b.number);
  const c = result.coverage || {};
  put(box,
    h('section', { class: 'card', id: 'budget-result' },
      h('h2', {}, t('console.budget.result')),
      h('p', { id: 'result-summary' }, t('console.budget.result_summary', {
        fund: formatMoney(result.fund), spent: formatMoney(result.spent), left: formatMoney(result.left),
        orders: formatNumber(result.orders), eligible: formatNumber(result.eligible),
      })),
      h('p', { class: 'muted' }, t('console.budget.result_reach', {
        online: formatNumber(c.online), in_person: formatNumber(c.in_person),
        visited: formatNumber(c.visited), not_reached: formatNumber(c.not_reached),
      })),
      result.override ? h('p', { class: 'override-note', id: 'result-override' },
        t('console.coverage.overridden', { reason: result.override.reason ?? result.override })) : null,
      h('div', { class: 'table-scroll' }, table(
        ['console.budget.rank', 'console.budget.number', 'console.budget.item_title', 'console.budget.cost',
          'console.budget.support', 'console.budget.needed', 'console.budget.standing'], rows, { id: 'result-items' })),
      result.digest ? h('p', { class: 'muted digest' }, `${t('console.budget.digest')}: `, h('code', {}, result.digest)) : null),
    h('section', { class: 'card', id: 'result-chart' },
      h('h2', {}, t('console.budget.support_chart')),
      barChart({
        labels: byNumber.map((r) => String(r.number)),
        shortLabel: String,
        series: [
          { name: t('console.budget.standing.funded'), values: byNumber.map((r) => (funded.has(r.number) ? r.support : 0)) },
          { name: t('console.budget.item.unfunded'), values: byNumber.map((r) => (funded.has(r.number) ? 0 : r.support)) },
        ],
      })));
}

// --- the money --------------------------------------------------------------------------

function stepButton(round, project) {
  const action = { funded: 'start', implementing: 'accept' }[project.status];
  if (!action) return '';
  return h('button', {
    type: 'button', 'data-action': action,
    on: {
      click: (event) => act(event.currentTarget,
        () => post(`${BASE}/${round.id}/menu/${project.number}/step`, { action }), reload),
    },
  }, t(`console.budget.step.${action}`));
}

async function spendingList(round, number, box) {
  const entries = listOf(await get(`${BASE}/${round.id}/menu/${number}/spending`));
  box.replaceChildren(table(
    ['console.budget.spent_on', 'console.budget.purpose', 'console.budget.amount', 'console.budget.receipts', 'console.budget.over_reason'],
    entries.map((s) => h('tr', { 'data-spending': s.id },
      td(String(s.spent_on)), td(s.purpose, { class: 'purpose' }), money(s.amount, 'amount'),
      td(formatNumber((s.receipts || []).length), { class: 'num' }), td(s.over_reason || ''))),
    { id: 'spending-list', 'data-item': number }));
}

function spendingForm(round, projects, may, list) {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
  const project = select('spending-item', projects.map((p) => [String(p.number), `${p.number}. ${p.title}`]), '',
    () => spendingList(round, project.value, list).catch(failed));
  const amount = h('input', { id: 'spending-amount', inputmode: 'decimal', required: true, placeholder: '0.00' });
  const spentOn = h('input', { id: 'spending-date', type: 'date', required: true, value: today, max: today });
  const purpose = h('input', { id: 'spending-purpose', maxlength: 200, required: true });
  const over = h('textarea', { id: 'spending-over-reason', rows: 2, maxlength: 500 });
  const submit = h('button', { type: 'submit', id: 'spending-submit' }, t('console.budget.record_spending'));
  const receipts = photos((busy) => { submit.disabled = busy; }, 'console.budget.receipts');
  receipts.node.querySelector('input').id = 'spending-receipt';
  receipts.node.querySelector('ul').id = 'spending-receipts';
  return h('form', {
    id: 'spending-form', class: 'card no-print',
    on: {
      submit: (event) => {
        event.preventDefault();
        const body = {
          amount: amount.value.trim(), spent_on: spentOn.value, purpose: purpose.value, receipts: [...receipts.ids],
        };
        if (may.includes('admins') && over.value.trim()) body.over_reason = over.value;
        act(submit, () => post(`${BASE}/${round.id}/menu/${project.value}/spending`, body),
          () => budgetPage({ view: 'money', item: project.value }));
      },
    },
  },
  h('h2', {}, t('console.budget.new_spending')),
  h('div', { class: 'budget-fields' },
    labelled('console.budget.project', project), labelled('console.budget.amount', amount),
    labelled('console.budget.spent_on', spentOn), labelled('console.budget.purpose', purpose)),
  receipts.node,
  may.includes('admins')
    ? h('label', { class: 'field', id: 'spending-over' }, h('span', {}, t('console.budget.over_reason')), over,
      h('span', { class: 'muted' }, t('console.budget.over_hint')))
    : null,
  submit);
}

async function moneyView(round, may, box, wanted) {
  const figures = await get(`${BASE}/${round.id}/finances`);
  const projects = figures.projects || [];
  const rows = projects.map((p) => h('tr', {
    'data-item': p.number, 'data-status': p.status, class: Number(p.left) < 0 ? 'over' : null,
  },
  td(String(p.number), { class: 'num' }), td(p.title, { class: 'title' }), td(p.responsible),
  td(t(`console.budget.item.${p.status}`), { class: 'status' }),
  money(p.budget, 'budget'), money(p.spent, 'spent'), money(p.left, 'left'),
  td(p.stars !== null && p.stars !== undefined ? `${p.stars} (${formatNumber(p.ratings)})` : '', { class: 'num' }),
  td(may.includes('managers') && SPENDING.includes(round.status) ? stepButton(round, p) : '')));
  const list = h('div', { id: 'spending-box' });
  const spending = may.includes('managers') && SPENDING.includes(round.status) && projects.length;
  put(box,
    h('section', { class: 'card', id: 'budget-money' },
      h('h2', {}, t('console.budget.money')),
      h('dl', { class: 'reach-counts', id: 'money-totals' }, ['fund', 'budgeted', 'spent', 'balance'].map((k) => h('div', { 'data-total': k, 'data-value': figures[k] },
        h('dt', {}, t(`console.budget.total.${k}`)), h('dd', {}, formatMoney(figures[k]))))),
      h('h3', {}, t('console.budget.sources')),
      table(['console.budget.source_kind', 'console.budget.source_name', 'console.budget.amount'],
        (figures.sources || []).map((s) => tr(td(t(`console.budget.source.${s.kind}`)), td(s.name), money(s.amount, 'amount'))),
        { id: 'money-sources' }),
      h('h3', {}, t('console.budget.projects')),
      h('div', { class: 'table-scroll' }, table(
        ['console.budget.number', 'console.budget.item_title', 'console.budget.responsible', 'console.budget.status',
          'console.budget.budget', 'console.budget.spent', 'console.budget.left', 'console.budget.stars', 'console.proposals.actions'],
        rows, { id: 'money-projects' }))),
    projects.length ? h('section', { class: 'card', id: 'money-chart' },
      h('h2', {}, t('console.budget.money_chart')),
      barChart({
        labels: projects.map((p) => String(p.number)),
        shortLabel: String,
        series: [
          { name: t('console.budget.spent'), values: projects.map((p) => Number(p.spent)) },
          { name: t('console.budget.left'), values: projects.map((p) => Math.max(0, Number(p.left))) },
        ],
      })) : null,
    may.includes('managers') && MENU_OPEN.includes(round.status) ? sourcesForm(round, round.sources || []) : null,
    spending ? spendingForm(round, projects, may, list) : null,
    projects.length ? h('section', { class: 'card' }, h('h2', {}, t('console.budget.spendings')), list) : null);
  if (projects.length) {
    const number = projects.some((p) => String(p.number) === String(wanted)) ? String(wanted) : String(projects[0].number);
    const chooser = document.getElementById('spending-item');
    if (chooser) chooser.value = number;
    await spendingList(round, number, list);
  }
}

function sourcesForm(round, sources) {
  const editor = sourcesEditor(sources);
  const submit = h('button', { type: 'submit', id: 'sources-save' }, t('console.budget.save'));
  return h('form', {
    class: 'card no-print', id: 'sources-form',
    on: {
      submit: (event) => {
        event.preventDefault();
        act(submit, () => api('PUT', `${BASE}/${round.id}/sources`, { sources: editor.value() }), reload);
      },
    },
  }, h('h2', {}, t('console.budget.sources')), editor.node, submit);
}

const VIEW = { menu: menuView, doors: doorsView, result: resultView, money: moneyView };

/** ``#/budget``: the rounds; ``#/budget?id=N&view=menu|doors|result|money``: one round. */
export async function budgetPage(changes = {}) {
  const wanted = { ...Object.fromEntries(params()), ...changes };
  const me = await get('/api/v1/me');
  const may = me.may || [];
  if (!wanted.id) {
    await roundsList(may);
    return;
  }
  const round = await get(`${BASE}/${wanted.id}`);
  const managers = may.includes('managers');
  const view = VIEWS.includes(wanted.view) ? wanted.view
    : { ordering: 'doors', result: 'result', implementation: 'money', finished: 'money' }[round.status] || 'menu';
  let coverage = null;
  if (round.status === 'ordering' && managers) {
    try {
      coverage = await get(`${BASE}/${round.id}/coverage`);
    } catch (error) {
      if (error.status === 401) throw error;
    }
  }
  const box = h('div', { id: 'round-body', 'data-view': view });
  put(main(),
    h('div', { class: 'page-head' }, h('h1', { id: 'round-title' }, `${round.year} ${round.title}`),
      h('a', { href: '#/budget', class: 'button-link no-print' }, t('console.budget.back'))),
    h('section', { class: 'card', id: 'round', 'data-round': round.id, 'data-status': round.status },
      timeline(round),
      round.fund !== undefined ? h('p', { id: 'round-fund' }, `${t('console.budget.fund')}: ${formatMoney(round.fund)}`) : null,
      round.ordering_ends_at ? h('p', { class: 'muted' }, `${t('console.budget.ordering_ends')} ${formatTime(round.ordering_ends_at)}`) : null,
      advancePanel(round, coverage, may),
      filesPanel(round, may)),
    tabs(round, view),
    box);
  await VIEW[view](round, may, box, wanted.item);
}

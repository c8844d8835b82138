// The household register as a spreadsheet, for managers. A file is checked first (a dry run
// reporting every row), and only a file whose rows all pass may be applied; the export is
// the same columns, so a register exported, edited and imported again changes what changed.

import { download, upload } from './api.js';
import { formatNumber, t } from './i18n.js';
import { act, h, heading, labelled, main, saveFile, showMessage, table, td } from './ui.js';

const IMPORT = '/api/v1/households/import';
const EXPORT = '/api/v1/households/export?format=xlsx';
const ACCEPT = '.xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv';

const place = (row) => [row.building, row.unit, row.room].filter(Boolean).join('-');

function details(row) {
  if (row.reason) return row.reason.message;
  const empty = t('console.register.empty_value');
  return row.changes.map((c) => t('console.register.change', {
    field: t(`console.register.field.${c.field}`), old: c.old ?? empty, new: c.new ?? empty,
  })).join('; ');
}

function reportView(report, showUnchanged) {
  const c = report.counts;
  const counts = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, formatNumber(v)]));
  let verdict;
  if (report.applied) verdict = h('p', { class: 'verdict ok', id: 'register-verdict' }, t('console.register.applied'));
  else if (c.refuse) verdict = h('p', { class: 'verdict refused', id: 'register-verdict' }, t('console.register.has_refusals', { refuse: counts.refuse }));
  else verdict = h('p', { class: 'verdict', id: 'register-verdict' }, t('console.register.preview'));
  const rows = report.rows.filter((row) => showUnchanged || row.action !== 'unchanged')
    .map((row) => h('tr', { 'data-row': row.row, 'data-action': row.action },
      td(String(row.row)),
      td(t(`console.register.action.${row.action}`), { class: `action action-${row.action}` }),
      td(place(row)),
      td(details(row), { class: 'details' })));
  return h('section', { class: 'card', id: 'register-report', 'data-applied': String(report.applied) },
    verdict,
    h('p', { id: 'register-counts' }, t('console.register.counts', counts)),
    report.new_buildings.length
      ? h('p', { id: 'register-new-buildings' }, t('console.register.new_buildings', { names: report.new_buildings.join(', ') }))
      : null,
    h('div', { class: 'table-scroll' }, table(
      ['console.register.row', 'console.register.action', 'console.register.place', 'console.register.details'],
      rows, { id: 'register-rows' })));
}

/** ``#/register``: pick a file, check it, apply it; or export the register. */
export async function registerPage() {
  const input = h('input', { type: 'file', id: 'register-file', accept: ACCEPT });
  const check = h('button', { type: 'button', id: 'register-check' }, t('console.register.check'));
  const apply = h('button', { type: 'button', id: 'register-apply', hidden: true }, t('console.register.apply'));
  const unchanged = h('input', { type: 'checkbox', id: 'register-unchanged' });
  const out = h('div', { id: 'register-out' });
  // The file the report on screen is of: the apply sends that one, not a later pick.
  let checked = null;
  let shown = null;
  const show = (report) => {
    shown = report;
    out.replaceChildren(reportView(report, unchanged.checked));
    apply.hidden = report.applied || report.counts.refuse > 0;
  };
  input.addEventListener('change', () => {
    checked = null;
    shown = null;
    apply.hidden = true;
    out.replaceChildren();
  });
  unchanged.addEventListener('change', () => { if (shown) show(shown); });
  check.addEventListener('click', () => {
    const file = input.files[0];
    if (!file) {
      showMessage(t('console.register.choose_file'));
      return;
    }
    act(check, () => upload(`${IMPORT}?apply=false`, file), (report) => { checked = file; show(report); });
  });
  apply.addEventListener('click', () => act(apply, () => upload(`${IMPORT}?apply=true`, checked), (report) => {
    checked = null;
    show(report);
  }));
  const exporter = h('button', {
    type: 'button', class: 'secondary', id: 'register-export',
    on: {
      click: (event) => act(event.currentTarget, async () => {
        const file = await download(EXPORT, 'household-register.xlsx');
        saveFile(file.blob, file.name);
      }),
    },
  }, t('console.register.export'));
  main().replaceChildren(
    heading('console.register.heading', exporter),
    h('section', { class: 'card', id: 'register' },
      labelled('console.register.file', input),
      h('p', { class: 'muted' }, t('console.register.columns')),
      h('div', { class: 'actions' }, check, apply,
        h('label', { class: 'check' }, unchanged, ' ', t('console.register.show_unchanged')))),
    out);
}

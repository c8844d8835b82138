// Notices: writing one with a preview of what residents will read on each channel and
// how many it reaches (the server renders and counts as the sender will), the list with
// its progress, and one notice's page: progress per channel and each customer group's
// mass-sending task (waiting for its owner, sent, not in the group...).

import { get, post } from './api.js';
import { formatNumber, formatTime, t } from './i18n.js';
import { act, failed, h, heading, labelled, main, select, showMessage, table, td } from './ui.js';

const CHANNELS = ['oa', 'robot', 'customer_group'];
const SCOPES = ['community', 'buildings', 'grids', 'volunteers'];
const POLL_MS = 5000;
const LIVE = ['sending', 'scheduled'];
// Failure reasons with words of their own; any other shows as the platform's code.
const FAILURES = [
  'not_confirmed', 'not_sent', 'already_received', 'refused', 'no_account', 'cancelled',
  'gave_up', 'not_in_group',
];

export function progressOf(n) {
  const done = (n.sent || 0) + (n.failed || 0) + (n.unknown || 0);
  return h('div', { class: 'progress', 'data-progress': n.id },
    h('progress', { max: Math.max(n.total || 0, 1), value: n.total ? done : 0 }),
    h('span', {}, t('console.notices.progress', {
      sent: n.sent || 0, total: n.total || 0, failed: n.failed || 0, pending: n.pending || 0,
    })));
}

/** What each channel will say and to how many: ``preview`` is the API's answer. */
function previewCards(preview) {
  return preview.channels.map((c) => h('section', { class: 'channel-preview', 'data-channel': c.channel },
    h('h3', {}, t(`console.notices.channel.${c.channel}`), ' ',
      h('span', { class: 'recipients', 'data-recipients': c.recipients },
        t(`console.notices.recipients.${c.channel}`, { count: formatNumber(c.recipients) }))),
    h('p', { class: 'message-text' }, c.text)));
}

function noticeForm(reload) {
  const title = h('input', { id: 'notice-title', maxlength: 100, required: true });
  const body = h('textarea', { id: 'notice-body', rows: 4, required: true });
  const ids = h('input', { id: 'notice-ids', placeholder: t('console.notices.ids'), disabled: true });
  const scope = select('notice-scope', SCOPES.map((k) => [k, t(`console.notices.scope.${k}`)]), 'community',
    () => { ids.disabled = !['buildings', 'grids'].includes(scope.value); });
  const check = (id, key, checked = false) => {
    const box = h('input', { type: 'checkbox', id, checked });
    return [box, h('label', { class: 'check' }, box, ' ', t(key))];
  };
  const channels = CHANNELS.map((c) => check(`notice-${c.replace('_', '-')}`, `console.notices.channel.${c}`, c === 'oa'));
  const [emergency, emergencyLabel] = check('notice-emergency', 'console.notices.emergency');
  const [sendNow, sendNowLabel] = check('notice-send-now', 'console.notices.send_now');
  const panel = h('div', { id: 'notice-preview', class: 'notice-preview', hidden: true, 'aria-live': 'polite' });
  const draft = () => ({
    title: title.value,
    body: body.value,
    scope: {
      kind: scope.value,
      ids: ids.disabled ? [] : ids.value.split(/[,，\s]+/).filter(Boolean).map(Number),
    },
    channels: CHANNELS.filter((c, i) => channels[i][0].checked),
    emergency: emergency.checked,
  });
  const showPreview = async () => {
    const preview = await post('/api/v1/notices/preview', draft());
    panel.replaceChildren(h('h3', { class: 'muted' }, t('console.notices.preview_heading')), ...previewCards(preview));
    panel.hidden = false;
  };
  const previewButton = h('button', {
    type: 'button', id: 'notice-preview-button', class: 'secondary',
    on: {
      click: async (event) => {
        const button = event.currentTarget;
        if (!title.value.trim() || !body.value.trim()) {
          showMessage(t('console.notices.preview_needs_text'));
          return;
        }
        button.disabled = true;
        try {
          await showPreview();
        } catch (error) {
          failed(error);
        } finally {
          button.disabled = false;
        }
      },
    },
  }, t('console.notices.preview'));
  const submit = h('button', { type: 'submit', id: 'notice-create' }, t('console.notices.create'));
  return h('form', {
    id: 'notice-form', class: 'card no-print',
    on: {
      submit: (event) => {
        event.preventDefault();
        const form = event.currentTarget;
        const payload = { ...draft(), send: sendNow.checked };
        act(submit, () => post('/api/v1/notices', payload), () => {
          form.reset();
          ids.disabled = true;
          panel.hidden = true;
          panel.replaceChildren();
          return reload();
        });
      },
    },
  },
  h('h2', {}, t('console.notices.new')),
  labelled('console.notices.title', title),
  labelled('console.notices.body', body),
  labelled('console.notices.scope', scope), ids,
  h('div', { class: 'checks' }, ...channels.map(([, label]) => label), emergencyLabel, sendNowLabel),
  panel,
  h('div', { class: 'actions' }, previewButton, submit));
}

function sendButton(n, reload) {
  return ['draft', 'scheduled'].includes(n.status)
    ? h('button', {
      type: 'button', 'data-action': 'send',
      on: { click: (event) => act(event.currentTarget, () => post(`/api/v1/notices/${n.id}/send`), reload) },
    }, t('console.notices.send'))
    : null;
}

function noticeRow(n, reload) {
  return h('tr', { 'data-notice': n.id, 'data-status': n.status },
    td(h('a', { href: `#/notice?id=${n.id}`, 'data-open': n.id }, n.title), { class: 'title' }),
    td(t(`console.notice.${n.status}`), { class: 'status' }),
    td(progressOf(n), { class: 'progress-cell' }),
    td(sendButton(n, reload)));
}

/** The notices page: write one (with its preview), and the list with each one's progress. */
export async function noticesPage(every) {
  const list = h('div', { id: 'notices' });
  const load = async () => {
    const page = await get('/api/v1/notices?per_page=50');
    list.replaceChildren(table(
      ['console.notices.title', 'console.notices.status', 'console.notices.progress', 'console.proposals.actions'],
      page.items.map((n) => noticeRow(n, load)), { class: 'notices' }));
    return page;
  };
  main().replaceChildren(heading('console.notices.heading'), noticeForm(load), h('section', { class: 'card' }, list));
  await load();
  every(POLL_MS, async () => {
    if (!document.querySelector('#notices tr[data-status="sending"], #notices tr[data-status="scheduled"]')) return;
    try {
      await load();
    } catch (error) {
      failed(error);
    }
  });
}

// --- one notice ---------------------------------------------------------------------------

function failureText(code) {
  if (!code) return '';
  return FAILURES.includes(code) ? t(`console.notices.failure.${code}`) : code;
}

function channelTable(delivery) {
  return table(
    ['console.notices.channel', 'console.notices.sent', 'console.notices.failed',
      'console.notices.pending', 'console.notices.total'],
    delivery.channels.map((c) => h('tr', { 'data-channel': c.channel },
      td(t(`console.notices.channel.${c.channel}`)),
      td(formatNumber(c.sent), { class: 'num', 'data-sent': c.sent }),
      td(formatNumber(c.failed + c.unknown), { class: 'num', 'data-failed': c.failed + c.unknown }),
      td(formatNumber(c.pending), { class: 'num', 'data-pending': c.pending }),
      td(formatNumber(c.total), { class: 'num', 'data-total': c.total }))),
    { class: 'channel-progress', id: 'notice-channels' });
}

function groupTable(delivery) {
  return table(
    ['console.notices.group.name', 'console.notices.status', 'console.notices.group.submitted_at',
      'console.notices.group.confirmed_at', 'console.notices.group.sent_at', 'console.notices.group.failure'],
    delivery.customer_groups.map((g) => h('tr', { 'data-group': g.group_id, 'data-status': g.status },
      td(g.name),
      td(h('span', { class: `group-status group-${g.status}` }, t(`console.notices.group_status.${g.status}`)), { class: 'status' }),
      td(formatTime(g.submitted_at)), td(formatTime(g.confirmed_at)), td(formatTime(g.sent_at)),
      td(failureText(g.failure), { class: 'failure' }))),
    { class: 'customer-groups', id: 'notice-groups' });
}

/** One notice: its status, its progress per channel, what residents read, each customer group. */
export async function noticePage(every) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const id = Number(params.get('id'));
  const [delivery, preview] = await Promise.all([
    get(`/api/v1/notices/${id}/delivery`), get(`/api/v1/notices/${id}/preview`),
  ]);
  const status = h('p', { class: 'notice-status', id: 'notice-status', 'data-status': delivery.status });
  const actions = h('div', { class: 'actions no-print' });
  const channels = h('section', { class: 'card', id: 'notice-progress' });
  const groups = h('section', { class: 'card', id: 'notice-customer-groups' });
  const draw = (d) => {
    status.dataset.status = d.status;
    status.replaceChildren(t(`console.notice.${d.status}`), ' ', progressOf(d));
    actions.replaceChildren(...[sendButton(d, reload)].filter(Boolean));
    channels.replaceChildren(h('h2', {}, t('console.notices.channels')), channelTable(d));
    groups.hidden = !d.channels.some((c) => c.channel === 'customer_group');
    groups.replaceChildren(h('h2', {}, t('console.notices.customer_groups')), groupTable(d));
  };
  async function reload() {
    const d = await get(`/api/v1/notices/${id}/delivery`);
    draw(d);
    return d;
  }
  main().replaceChildren(
    h('div', { class: 'page-head' }, h('h1', { id: 'notice-title-shown' }, delivery.title),
      h('a', { href: '#/notices', class: 'no-print' }, t('console.notices.back'))),
    h('section', { class: 'card' }, status, actions),
    channels,
    h('section', { class: 'card', id: 'notice-texts' },
      h('h2', {}, t('console.notices.preview_heading')), ...previewCards(preview)),
    groups);
  draw(delivery);
  every(POLL_MS, async () => {
    if (!LIVE.includes(status.dataset.status)) return;
    try {
      await reload();
    } catch (error) {
      failed(error);
    }
  });
}

// The workers' dashboard: what waits now, then the last weeks' figures drawn with Apache
// ECharts (the global `echarts` from vendor/echarts.min.js, pinned in bot/console/package.json).
//
// Under the console's CSP (no eval, no inline style attribute) ECharts only styles its own
// nodes through the CSSOM, which the policy allows; our tooltips are DOM nodes with classes,
// never HTML strings. Each chart says what it shows in one sentence (its aria-label and a
// visible summary) and keeps its figures in a table, for screen readers and for printing.

import { get } from './api.js';
import { formatNumber, formatPercent, lang, t } from './i18n.js';
import { h, heading, main, showMessage, table, td, tr } from './ui.js';

const SERIES = 8; // console.css --s0 … --s7, as the .series-N swatches
const live = []; // this page's ECharts instances, disposed when it is drawn again or left

function disposeCharts() {
  while (live.length) live.pop().dispose();
}
window.addEventListener('hashchange', disposeCharts);
window.addEventListener('resize', () => live.forEach((chart) => chart.resize()));

const shortWeek = (label) => String(label).replace(/^\d{4}-/, '');
const sum = (values) => values.reduce((a, b) => a + (b || 0), 0);

function palette() {
  const style = getComputedStyle(document.documentElement);
  return Array.from({ length: SERIES }, (_, i) => style.getPropertyValue(`--s${i}`).trim());
}

// --- tooltips: plain DOM, one row per figure ---------------------------------------------

function tipRow(name, value, series = null) {
  return h('div', { class: 'chart-tip-row' },
    series === null ? null : h('span', { class: `swatch series-${series % SERIES}` }),
    h('span', { class: 'chart-tip-name' }, name),
    h('span', { class: 'chart-tip-value' }, value));
}

const tip = (title, ...rows) => h('div', { class: 'chart-tip' }, h('div', { class: 'chart-tip-title' }, title), rows);

// --- one chart ---------------------------------------------------------------------------

function baseOption(name) {
  return {
    color: palette(),
    animationDuration: 300,
    textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
    grid: { left: 8, right: 16, top: 44, bottom: 8, containLabel: true },
    legend: { type: 'scroll', top: 0, left: 0, right: 36 },
    tooltip: { trigger: 'axis', confine: true, renderMode: 'html', className: 'chart-tooltip' },
    toolbox: {
      top: 0,
      right: 0,
      feature: {
        saveAsImage: {
          title: t('console.chart.save'), name: `linli-${name}`, backgroundColor: '#fff', pixelRatio: 2,
        },
      },
    },
  };
}

/**
 * A card with a chart: its title, a one-line summary, the chart, then its figures.
 * ``data`` is the table (or a <details> holding it); ``option`` the ECharts option, merged
 * over the base (legend, tooltip, toolbox); null when there is nothing to draw.
 */
function chartCard({ id, title, summary, option, data, height = 260 }) {
  const box = option && h('div', { class: 'echart', role: 'img', 'aria-label': summary, 'data-chart': id });
  const section = h('section', { class: 'card chart-card', id },
    h('h2', {}, t(title)),
    h('p', { class: 'chart-summary muted' }, summary),
    box, data);
  return { section, box, option, height, name: id };
}

function drawAll(cards) {
  if (typeof window.echarts === 'undefined') {
    showMessage(t('console.chart.missing'));
    for (const card of cards) {
      card.box?.remove();
      card.section.querySelector('details')?.setAttribute('open', '');
    }
    return;
  }
  const locale = lang() === 'en' ? 'EN' : 'ZH';
  for (const card of cards) {
    if (!card.box) continue;
    const chart = window.echarts.init(card.box, null, { renderer: 'canvas', height: card.height, locale });
    const base = baseOption(card.name);
    const { tooltip = {}, legend = {}, grid = {}, ...rest } = card.option;
    chart.setOption({
      ...base,
      ...rest,
      tooltip: { ...base.tooltip, ...tooltip },
      legend: legend === false ? { show: false } : { ...base.legend, ...legend },
      grid: { ...base.grid, ...grid },
    });
    live.push(chart);
  }
}

const dataTable = (heads, rows) => h('details', { class: 'chart-data' },
  h('summary', {}, t('console.chart.data')), table(heads, rows));
const num = (value) => td(formatNumber(value), { class: 'num' });

// --- the figures -------------------------------------------------------------------------

function complaintsCard(complaints) {
  const { weeks, departments, totals } = complaints;
  const total = sum(totals);
  const busiest = totals.indexOf(Math.max(...totals));
  const summary = total
    ? t('console.chart.summary.complaints', { weeks: weeks.length, total, week: weeks[busiest], count: totals[busiest] })
    : t('console.chart.summary.empty', { weeks: weeks.length });
  return chartCard({
    id: 'complaints-chart',
    title: 'console.dashboard.complaints',
    summary,
    option: {
      xAxis: { type: 'category', data: weeks.map(shortWeek) },
      yAxis: { type: 'value', minInterval: 1 },
      series: departments.map((d) => ({
        type: 'bar', name: d.name, stack: 'tickets', data: d.counts, emphasis: { focus: 'series' },
      })),
      tooltip: {
        formatter: (params) => {
          const i = params[0].dataIndex;
          return tip(weeks[i],
            ...params.filter((p) => p.value).map((p) => tipRow(p.seriesName, formatNumber(p.value), p.seriesIndex)),
            tipRow(t('console.chart.total'), formatNumber(totals[i])));
        },
      },
    },
    data: dataTable(['console.chart.week', 'console.dashboard.department', 'console.chart.tickets'],
      weeks.flatMap((week, i) => departments.filter((d) => d.counts[i]).map((d) => tr(td(week), td(d.name), num(d.counts[i]))))),
  });
}

function resolveCard(times) {
  const resolved = sum(times.map((r) => r.resolved));
  return chartCard({
    id: 'resolve-times',
    title: 'console.dashboard.resolve',
    summary: resolved
      ? t('console.chart.summary.resolve', { departments: times.length, resolved })
      : t('console.empty'),
    option: times.length ? {
      yAxis: { type: 'category', data: times.map((r) => r.name), inverse: true },
      xAxis: { type: 'value', name: t('console.dashboard.hours') },
      series: [
        { type: 'bar', name: t('console.dashboard.median_hours'), data: times.map((r) => r.median_hours) },
        { type: 'bar', name: t('console.dashboard.p90_hours'), data: times.map((r) => r.p90_hours) },
      ],
      tooltip: {
        formatter: (params) => {
          const r = times[params[0].dataIndex];
          return tip(r.name,
            tipRow(t('console.dashboard.resolved'), formatNumber(r.resolved)),
            ...params.map((p) => tipRow(p.seriesName, formatNumber(p.value), p.seriesIndex)));
        },
      },
    } : null,
    height: Math.max(160, 70 + times.length * 44),
    data: table(
      ['console.dashboard.department', 'console.dashboard.resolved', 'console.dashboard.median_hours', 'console.dashboard.p90_hours'],
      times.map((r) => tr(td(r.name), num(r.resolved), num(r.median_hours), num(r.p90_hours))),
    ),
  });
}

function satisfactionCard(weeks) {
  const rated = sum(weeks.map((w) => w.rated));
  const average = rated ? sum(weeks.map((w) => (w.average || 0) * w.rated)) / rated : null;
  return chartCard({
    id: 'satisfaction',
    title: 'console.dashboard.satisfaction',
    summary: rated
      ? t('console.chart.summary.satisfaction', { weeks: weeks.length, rated, average: formatNumber(Math.round(average * 100) / 100) })
      : t('console.chart.summary.empty', { weeks: weeks.length }),
    option: {
      xAxis: { type: 'category', data: weeks.map((w) => shortWeek(w.week)) },
      yAxis: { type: 'value', min: 0, max: 5, interval: 1 },
      series: [{
        type: 'line', name: t('console.chart.stars'), data: weeks.map((w) => w.average), connectNulls: false, symbolSize: 8,
      }],
      tooltip: {
        formatter: (params) => {
          const w = weeks[params[0].dataIndex];
          return tip(w.week,
            tipRow(t('console.chart.stars'), formatNumber(w.average), 0),
            tipRow(t('console.chart.rated'), formatNumber(w.rated)));
        },
      },
    },
    data: dataTable(['console.chart.week', 'console.chart.stars', 'console.chart.rated'],
      weeks.map((w) => tr(td(w.week), num(w.average), num(w.rated)))),
  });
}

function votesCard(votes) {
  const known = votes.filter((v) => v.turnout !== null && v.turnout !== undefined);
  const mean = known.length ? sum(known.map((v) => v.turnout)) / known.length : null;
  return chartCard({
    id: 'votes',
    title: 'console.dashboard.votes',
    summary: votes.length
      ? t('console.chart.summary.votes', { count: votes.length, turnout: formatPercent(mean) })
      : t('console.empty'),
    option: votes.length ? {
      yAxis: {
        type: 'category', inverse: true, data: votes.map((v) => v.title), axisLabel: { width: 120, overflow: 'truncate' },
      },
      xAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (value) => formatPercent(value) } },
      legend: false,
      series: [{ type: 'bar', name: t('console.dashboard.turnout'), data: votes.map((v) => v.turnout || 0) }],
      tooltip: {
        formatter: (params) => {
          const v = votes[params[0].dataIndex];
          return tip(v.title,
            tipRow(t('console.dashboard.turnout'), formatPercent(v.turnout), 0),
            tipRow(t('console.chart.voted'), `${formatNumber(v.voted)} / ${formatNumber(v.eligible)}`),
            ...(v.yes === null ? [] : [
              tipRow(t('console.dashboard.yes'), formatNumber(v.yes)),
              tipRow(t('console.dashboard.no'), formatNumber(v.no)),
              tipRow(t('console.dashboard.abstain'), formatNumber(v.abstain)),
            ]));
        },
      },
    } : null,
    height: Math.max(140, 50 + votes.length * 36),
    data: table(
      ['console.dashboard.proposal', 'console.proposals.status', 'console.dashboard.yes', 'console.dashboard.no',
        'console.dashboard.abstain', 'console.dashboard.eligible', 'console.dashboard.turnout'],
      votes.map((v) => tr(
        td(v.title), td(t(`console.proposal.${v.status}`)),
        num(v.yes), num(v.no), num(v.abstain), num(v.eligible),
        td(h('span', { class: 'turnout' },
          h('meter', { min: 0, max: 1, value: v.turnout || 0 }), ' ', formatPercent(v.turnout))),
      )),
    ),
  });
}

function hoursCard(weeks) {
  const hours = Math.round(sum(weeks.map((w) => w.hours)) * 100) / 100;
  const attended = sum(weeks.map((w) => w.attended));
  return chartCard({
    id: 'volunteer-hours',
    title: 'console.dashboard.volunteer_hours',
    summary: attended
      ? t('console.chart.summary.hours', { weeks: weeks.length, hours: formatNumber(hours), attended })
      : t('console.chart.summary.empty', { weeks: weeks.length }),
    option: {
      xAxis: { type: 'category', data: weeks.map((w) => shortWeek(w.week)) },
      // The legend names both axes: an axis name would sit under the toolbox.
      yAxis: [{ type: 'value' }, { type: 'value', minInterval: 1, splitLine: { show: false } }],
      series: [
        { type: 'bar', name: t('console.dashboard.hours'), data: weeks.map((w) => w.hours) },
        { type: 'line', name: t('console.chart.attended'), yAxisIndex: 1, data: weeks.map((w) => w.attended), symbolSize: 7 },
      ],
      tooltip: {
        formatter: (params) => {
          const w = weeks[params[0].dataIndex];
          return tip(w.week,
            tipRow(t('console.dashboard.hours'), formatNumber(w.hours), 0),
            tipRow(t('console.chart.attended'), formatNumber(w.attended), 1));
        },
      },
    },
    data: dataTable(['console.chart.week', 'console.dashboard.hours', 'console.chart.attended'],
      weeks.map((w) => tr(td(w.week), num(w.hours), num(w.attended)))),
  });
}

function heatmapCard(heat) {
  const { weeks, buildings, unplaced } = heat;
  const rows = buildings.map((b) => ({ name: b.name, counts: b.counts }));
  const away = sum(unplaced);
  if (away) rows.push({ name: t('console.chart.unplaced'), counts: unplaced });
  const totals = buildings.map((b) => sum(b.counts));
  const top = totals.length ? totals.indexOf(Math.max(...totals)) : -1;
  const summary = top >= 0 && totals[top]
    ? t('console.chart.summary.heatmap', { weeks: weeks.length, building: buildings[top].name, count: totals[top], unplaced: away })
    : t('console.chart.summary.empty', { weeks: weeks.length });
  const cells = rows.flatMap((row, y) => row.counts.map((count, x) => [x, y, count]));
  const most = Math.max(1, ...cells.map((c) => c[2]));
  return chartCard({
    id: 'complaint-heatmap',
    title: 'console.dashboard.heatmap',
    summary,
    option: rows.length ? {
      xAxis: { type: 'category', data: weeks.map(shortWeek), splitArea: { show: true } },
      yAxis: { type: 'category', data: rows.map((r) => r.name), inverse: true, splitArea: { show: true } },
      legend: false,
      grid: { top: 36, bottom: 56 },
      visualMap: {
        min: 0, max: most, calculable: true, orient: 'horizontal', left: 'center', bottom: 0,
        inRange: { color: ['#f0f9f4', '#0b6e4f'] },
      },
      series: [{
        type: 'heatmap',
        name: t('console.chart.tickets'),
        data: cells,
        label: { show: true, formatter: (p) => (p.value[2] ? String(p.value[2]) : '') },
        emphasis: { itemStyle: { borderColor: '#1f2933', borderWidth: 1 } },
      }],
      tooltip: {
        trigger: 'item',
        formatter: (p) => {
          const [x, y, count] = p.value;
          return tip(`${rows[y].name} · ${weeks[x]}`, tipRow(t('console.chart.tickets'), formatNumber(count)));
        },
      },
    } : null,
    height: 130 + rows.length * 30,
    data: dataTable(['console.chart.building', 'console.chart.week', 'console.chart.tickets'],
      rows.flatMap((row) => weeks.map((week, i) => [row, week, row.counts[i]]))
        .filter(([, , count]) => count)
        .map(([row, week, count]) => tr(td(row.name), td(week), num(count)))),
  });
}

function countCard(key, value, name) {
  return h('div', { class: `count count-${name}`, 'data-count': name },
    h('span', { class: 'count-value' }, formatNumber(value)),
    h('span', { class: 'count-label' }, t(key)));
}

export async function dashboardPage() {
  const figures = await get('/api/v1/dashboard');
  disposeCharts();
  const c = figures.counts;
  const cards = [
    complaintsCard(figures.complaints),
    heatmapCard(figures.complaints_by_building),
    resolveCard(figures.resolve_times),
    satisfactionCard(figures.satisfaction),
    votesCard(figures.votes),
    hoursCard(figures.volunteer_hours),
  ];
  main().replaceChildren(
    heading('console.dashboard.heading',
      h('button', {
        type: 'button',
        class: 'no-print',
        // Drawn again the way every page is: console.js renders on hashchange.
        on: { click: () => window.dispatchEvent(new HashChangeEvent('hashchange')) },
      }, t('console.refresh'))),
    h('section', { class: 'counts' },
      countCard('console.dashboard.open_tickets', c.open_tickets, 'open_tickets'),
      countCard('console.dashboard.overdue_tickets', c.overdue_tickets, 'overdue_tickets'),
      countCard('console.dashboard.awaiting_review', c.proposals_awaiting_review, 'proposals_awaiting_review'),
      countCard('console.dashboard.notices_sending', c.notices_sending, 'notices_sending')),
    h('div', { class: 'dash-grid' }, cards.map((card) => card.section)),
  );
  drawAll(cards);
}

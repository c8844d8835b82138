// Two small charts drawn as inline SVG: stacked bars and lines. Colours come from the
// stylesheet (.series-N), so nothing here needs an inline style.

const NS = 'http://www.w3.org/2000/svg';
const PAD = { top: 12, right: 12, bottom: 28, left: 40 };

function svg(name, attrs = {}, ...children) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) {
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** A round upper bound for the axis and its tick step: 0, step, 2·step … ≥ max. */
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: ticks, step: 1 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return { top: step * Math.ceil(max / step), step };
}

function frame(kind, labels, top, step, width, height, shortLabel) {
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: `chart chart-${kind}`, role: 'img', width, height,
  });
  const y = (value) => PAD.top + plotH - (value / top) * plotH;
  const axis = svg('g', { class: 'axis' });
  for (let v = 0; v <= top + 1e-9; v += step) {
    axis.append(
      svg('line', { x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v), class: 'grid' }),
      svg('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(Math.round(v * 100) / 100)),
    );
  }
  const slot = plotW / Math.max(labels.length, 1);
  labels.forEach((label, i) => {
    axis.append(svg('text', {
      x: PAD.left + slot * (i + 0.5), y: height - 8, 'text-anchor': 'middle',
    }, shortLabel(label)));
  });
  root.append(axis);
  return { root, y, slot, plotH };
}

function legend(series) {
  const list = document.createElement('ul');
  list.className = 'legend';
  series.forEach((s, i) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch series-${i % 8}`;
    item.append(swatch, document.createTextNode(s.name));
    list.append(item);
  });
  return list;
}

const weekLabel = (label) => String(label).replace(/^\d{4}-/, '');

/**
 * Stacked bars: ``labels`` along x, one stacked segment per series.
 * series: [{name, values: [number per label]}]
 */
export function barChart({ labels, series, width = 640, height = 240, shortLabel = weekLabel }) {
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const { top, step } = niceScale(Math.max(0, ...totals));
  const { root, y, slot } = frame('bar', labels, top, step, width, height, shortLabel);
  const barW = Math.max(4, slot * 0.6);
  labels.forEach((label, i) => {
    let base = 0;
    const x = PAD.left + slot * i + (slot - barW) / 2;
    series.forEach((s, k) => {
      const value = s.values[i] || 0;
      if (!value) return;
      const rect = svg('rect', {
        x, width: barW, y: y(base + value), height: y(base) - y(base + value),
        class: `bar series-${k % 8}`, 'data-label': label, 'data-series': s.name, 'data-value': value,
      }, svg('title', {}, `${s.name} · ${label}: ${value}`));
      root.append(rect);
      base += value;
    });
    if (totals[i]) {
      root.append(svg('text', { x: x + barW / 2, y: y(totals[i]) - 3, 'text-anchor': 'middle', class: 'total' }, String(totals[i])));
    }
  });
  const box = document.createElement('figure');
  box.className = 'chart-box';
  box.append(root, legend(series));
  return box;
}

/** Lines with a dot per point. series: [{name, values}] */
export function lineChart({ labels, series, width = 640, height = 240, shortLabel = weekLabel }) {
  const all = series.flatMap((s) => s.values);
  const { top, step } = niceScale(Math.max(0, ...all));
  const { root, y, slot } = frame('line', labels, top, step, width, height, shortLabel);
  series.forEach((s, k) => {
    const points = s.values.map((v, i) => [PAD.left + slot * (i + 0.5), y(v || 0)]);
    root.append(svg('polyline', {
      points: points.map(([px, py]) => `${px},${py}`).join(' '), class: `line series-${k % 8}`,
    }));
    points.forEach(([px, py], i) => {
      root.append(svg('circle', {
        cx: px, cy: py, r: 3.5, class: `dot series-${k % 8}`, 'data-label': labels[i], 'data-value': s.values[i],
      }, svg('title', {}, `${s.name} · ${labels[i]}: ${s.values[i]}`)));
    });
  });
  const box = document.createElement('figure');
  box.className = 'chart-box';
  box.append(root, legend(series));
  return box;
}

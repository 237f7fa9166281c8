/* attnd explorer: asks attnd for attention weights and draws them, as a heatmap per head
 * (query rows x key columns), a layers x heads grid of thumbnails and bertviz's two-column line
 * view. Plain JS, no libraries, no network but the daemon that served the page. The page's state
 * lives in the URL's fragment, so a view can be shared as a link. */
'use strict';

/* ---- colour: viridis (perceptually uniform, readable with common colour-vision deficiencies),
 * a degree-6 polynomial fit of matplotlib's table, sampled into 256 entries ---- */
const VIRIDIS = (() => {
  const c = [[0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
    [0.1050930431085774, 1.404613529898575, 1.384590162594685],
    [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
    [-4.634230498983486, -5.799100973351585, -19.33244095627987],
    [6.228269936347081, 14.17993336680509, 56.69055260068105],
    [4.776384997670288, -13.74514537774601, -65.35303263337234],
    [-5.435455855934631, 4.645852612178535, 26.3124352495832]];
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    for (let ch = 0; ch < 3; ch++) {
      let v = 0;
      for (let p = 6; p >= 0; p--) v = v * t + c[p][ch];
      lut[i * 3 + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return lut;
})();
const MASKED_RGB = [190, 190, 190];
/* Okabe-Ito: a categorical palette that stays distinct under colour-vision deficiencies. */
const HEAD_COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9',
  '#F0E442', '#000000'];

/* The [r, g, b] of weight w in [0, 1]; hard attention draws any selected key as 1. */
function colourOf(w, hard) {
  const t = hard ? (w > 0 ? 1 : 0) : Math.min(1, Math.max(0, w));
  const i = Math.round(t * 255) * 3;
  return [VIRIDIS[i], VIRIDIS[i + 1], VIRIDIS[i + 2]];
}
const hex = (rgb) => '#' + rgb.map((v) => v.toString(16).padStart(2, '0')).join('');

const $ = (id) => document.getElementById(id);

/* ---- state: what the URL holds ---- */
const state = {
  mode: 'model', model: '', text: '', source: '', raw: '', causal: false, score: 'scaled_dot',
  selection: 'soft', k: 1, serverAvg: false, view: 'heatmap', layer: 0, heads: null, cell: null,
  stretch: false,
};
let models = [];
let data = null; /* the normalised response: see normalise() */
let hover = null; /* [i, j] under the mouse */
let cursor = null; /* [i, j] of keyboard navigation */
let layout = null; /* geometry of the plot's last drawing */
let baseImage = null; /* the plot without the hover overlay */

function readUrl() {
  const p = new URLSearchParams(location.hash.slice(1));
  const str = (k) => p.get(k);
  if (str('mode') === 'raw') state.mode = 'raw';
  for (const k of ['model', 'text', 'source', 'raw', 'score', 'selection', 'view'])
    if (str(k) !== null) state[k] = str(k);
  state.causal = str('causal') === '1';
  state.serverAvg = str('server_avg') === '1';
  state.stretch = str('stretch') === '1';
  if (str('k')) state.k = Math.max(1, parseInt(str('k'), 10) || 1);
  if (str('layer')) state.layer = Math.max(0, parseInt(str('layer'), 10) || 0);
  if (str('heads')) state.heads = str('heads').split(',').map((x) => parseInt(x, 10))
    .filter((x) => x >= 0);
  if (str('cell')) {
    const c = str('cell').split(',').map((x) => parseInt(x, 10));
    if (c.length === 2 && c.every((x) => x >= 0)) state.cell = c;
  }
  return p.has('text') || p.has('raw');
}

function writeUrl() {
  const p = new URLSearchParams();
  p.set('mode', state.mode);
  if (state.mode === 'model') {
    p.set('model', state.model);
    p.set('text', state.text);
    if (state.source) p.set('source', state.source);
  } else {
    p.set('raw', state.raw);
  }
  if (state.causal) p.set('causal', '1');
  p.set('score', state.score);
  p.set('selection', state.selection);
  if (state.selection !== 'soft') p.set('k', String(state.k));
  if (state.serverAvg) p.set('server_avg', '1');
  p.set('view', state.view);
  if (state.layer) p.set('layer', String(state.layer));
  if (state.heads) p.set('heads', state.heads.join(','));
  if (state.cell) p.set('cell', state.cell.join(','));
  if (state.stretch) p.set('stretch', '1');
  history.replaceState(null, '', '#' + p.toString());
}

function formToState() {
  state.mode = $('mode').value;
  state.model = $('model').value;
  state.text = $('text').value;
  state.source = $('source').value;
  state.raw = $('raw').value;
  state.causal = $('causal').checked;
  state.score = $('score').value;
  state.selection = $('selection').value;
  state.k = Math.max(1, parseInt($('k').value, 10) || 1);
  state.serverAvg = $('server_avg').checked;
}

function stateToForm() {
  $('mode').value = state.mode;
  if (state.model) $('model').value = state.model;
  $('text').value = state.text;
  $('source').value = state.source;
  $('raw').value = state.raw;
  $('causal').checked = state.causal;
  $('score').value = state.score;
  $('selection').value = state.selection;
  $('k').value = String(state.k);
  $('server_avg').checked = state.serverAvg;
  $('stretch').checked = state.stretch;
  document.body.className = 'mode-' + state.mode;
}

/* ---- talking to attnd ---- */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function apiKey() {
  return $('apikey').value.trim();
}

async function api(path, body) {
  const headers = {};
  const key = apiKey();
  if (key) headers.Authorization = 'Bearer ' + key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST', headers, body,
  });
  const text = await res.text();
  if (res.status === 401) {
    throw new ApiError(401, 'unauthorized', key
      ? 'The server refused this API key (401). Check the key in "API key" above.'
      : 'The server requires an API key (401). Enter it in "API key" above and press Run.');
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ApiError(res.status, 'invalid_response', `${path}: the answer is not JSON (${res.status})`);
  }
  if (!res.ok) {
    const e = json.error || {};
    throw new ApiError(res.status, e.code || String(res.status),
      (e.message || text) + (e.field ? ` (field: ${e.field})` : ''));
  }
  return { json, text };
}

function showError(e) {
  const box = $('error');
  if (!e) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.hidden = false;
  box.textContent = e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e.message || e);
  if (e.status === 401) $('apikey').focus();
}

async function loadModels() {
  try {
    const { json } = await api('/v1/models');
    models = json.models || [];
    showError(null);
  } catch (e) {
    models = [];
    showError(e);
  }
  const sel = $('model');
  sel.textContent = '';
  for (const m of models) {
    const o = document.createElement('option');
    o.value = m.name;
    o.textContent = `${m.name} (${m.layers ? m.layers + ' layers × ' : ''}${m.num_heads} heads, E ${m.embed_dim})`;
    sel.appendChild(o);
  }
  const names = models.map((m) => m.name);
  if (!names.includes(state.model)) state.model = names.includes('zh-en') ? 'zh-en' : (names[0] || '');
  sel.value = state.model;
}

/* The request body of the current state. */
function requestBody() {
  const opts = { score: state.score, selection: state.selection, causal: state.causal };
  if (state.selection !== 'soft') opts.k = state.k;
  if (state.serverAvg) opts.average_heads = true;
  if (state.mode === 'raw') {
    let raw;
    try {
      raw = JSON.parse(state.raw);
    } catch (e) {
      throw new Error('The JSON body does not parse: ' + e.message);
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new Error('The JSON body must be an object with at least "query".');
    return { path: '/v1/attention', body: Object.assign(opts, raw) }; /* its fields win */
  }
  const body = { text: state.text };
  if (state.source.trim()) body.source = { text: state.source };
  return { path: `/v1/models/${encodeURIComponent(state.model)}/attention`, body: Object.assign(body, opts) };
}

function depth(a) {
  let d = 0;
  while (Array.isArray(a)) {
    d++;
    a = a[0];
  }
  return d;
}

function flat(m) {
  const lq = m.length, lk = m[0].length, out = new Float64Array(lq * lk);
  for (let i = 0; i < lq; i++) {
    if (m[i].length !== lk) throw new Error('ragged weights');
    for (let j = 0; j < lk; j++) out[i * lk + j] = m[i][j];
  }
  return out;
}

/* The response as {layers: [[Float64Array(lq * lk) per head]], lq, lk, labels, ...}. Handles
 * /v1/attention's [Lq, Lk], [H, Lq, Lk], [B, H, Lq, Lk] (batch 0 shown), model responses'
 * weights [H, L, S] and multi-layer models' attentions [layers, H, L, L], each with or without
 * the heads averaged on the server. */
function normalise(json, req) {
  const avg = !!req.body.average_heads;
  let w = json.attentions !== undefined ? json.attentions : json.weights;
  if (!w) throw new Error('The response has no weights (return_weights false?).');
  let layered, note = '';
  const d = depth(w);
  if (json.attentions !== undefined) {
    layered = d === 4 ? w : w.map((m) => [m]);
  } else if (req.path === '/v1/attention') {
    const qr = depth(req.body.query);
    let x = w;
    if (qr === 4) {
      note = `batch 0 of ${w.length}`;
      x = w[0];
    }
    layered = [depth(x) === 3 ? x : [x]];
  } else {
    layered = [d === 3 ? w : [w]];
  }
  const layers = layered.map((heads) => heads.map(flat));
  const lq = layered[0][0].length, lk = layered[0][0][0].length;
  const meta = json.meta || {};
  const qLabels = json.tokens ? json.tokens.map(String)
    : (json.ids ? json.ids.map(String) : Array.from({ length: lq }, (_, i) => 'q' + i));
  const kLabels = json.source_tokens ? json.source_tokens.map(String)
    : (json.tokens && !json.source_ids ? qLabels.slice()
      : Array.from({ length: lk }, (_, j) => 'k' + j));
  const layerNames = Array.isArray(meta.layers) ? meta.layers.map(String)
    : layers.map((_, i) => String(i));
  const headNames = Array.isArray(meta.heads) && !avg ? meta.heads.map(String)
    : layers[0].map((_, i) => (avg ? 'avg' : String(i)));
  let mask = null;
  if (req.path === '/v1/attention' && Array.isArray(req.body.mask)) {
    const md = depth(req.body.mask);
    if (md === 2 && req.body.mask.length === lq) mask = (i, j) => req.body.mask[i][j] !== false;
    else if (md === 1) mask = (i, j) => req.body.mask[j] !== false;
  }
  const causal = meta.causal === true || req.body.causal === true;
  return {
    layers, lq, lk, qLabels, kLabels, layerNames, headNames, note, meta,
    hard: (meta.selection || req.body.selection || 'soft') !== 'soft',
    allowed: (i, j) => !(causal && j > i) && (!mask || mask(i, j)),
    causal,
  };
}

/* ---- what is shown ---- */
function selectedHeads() {
  const n = data.layers[Math.min(state.layer, data.layers.length - 1)].length;
  const hs = (state.heads || []).filter((h) => h < n);
  return hs.length ? hs : Array.from({ length: n }, (_, i) => i);
}

/* The matrix shown: one head, or the mean of the selected heads. */
function shownMatrix() {
  const heads = data.layers[Math.min(state.layer, data.layers.length - 1)];
  const hs = selectedHeads();
  if (hs.length === 1) return heads[hs[0]];
  const out = new Float64Array(data.lq * data.lk);
  for (const h of hs) for (let i = 0; i < out.length; i++) out[i] += heads[h][i];
  for (let i = 0; i < out.length; i++) out[i] /= hs.length;
  return out;
}

function caption() {
  const hs = selectedHeads();
  const n = data.layers[0].length;
  const layer = data.layers.length > 1 ? `layer ${data.layerNames[state.layer]}, ` : '';
  const heads = hs.length === 1 ? `head ${data.headNames[hs[0]]}`
    : (hs.length === n ? `average of all ${n} heads` : `average of heads ${hs.map((h) => data.headNames[h]).join(', ')}`);
  const kind = data.hard ? `hard attention (${state.selection}, k ${state.k}): selected keys drawn as 1, others 0` : 'weights';
  return `${layer}${heads}: ${data.lq} queries × ${data.lk} keys, ${kind}${data.note ? ' (' + data.note + ')' : ''}`;
}

/* The weight at the top of the colour scale: 1, or the largest one shown with "stretch". */
function colourTop(m) {
  if (!state.stretch || data.hard) return 1;
  let top = 0;
  for (let i = 0; i < m.length; i++) if (m[i] > top) top = m[i];
  return top > 0 ? top : 1;
}

/* A raster of lq x lk pixels, one per cell, colours spanning 0..top. */
function raster(m, lq, lk, hard, allowed, top = 1) {
  const c = document.createElement('canvas');
  c.width = lk;
  c.height = lq;
  const ctx = c.getContext('2d');
  const img = ctx.createImageData(lk, lq);
  for (let i = 0; i < lq; i++)
    for (let j = 0; j < lk; j++) {
      const rgb = allowed(i, j) ? colourOf(m[i * lk + j] / top, hard) : MASKED_RGB;
      const o = (i * lk + j) * 4;
      img.data[o] = rgb[0];
      img.data[o + 1] = rgb[1];
      img.data[o + 2] = rgb[2];
      img.data[o + 3] = 255;
    }
  ctx.putImageData(img, 0, 0);
  return c;
}

const FONT = '12px system-ui, sans-serif';

const PLOT_MAX = 720; /* the plot's largest side in CSS pixels */
const CELL_MAX = 64; /* small matrices get large cells, not a page of them */

/* The plot's geometry: label margins, cell size c (whole pixels when a cell is at least one),
 * and the canvas size W x H that holds it, labels and legend. */
function computeLayout(ctx) {
  ctx.font = FONT;
  const maxw = (labels) => Math.min(120, Math.max(20, ...labels.slice(0, 2048).map((s) => ctx.measureText(s).width)));
  const left = 10 + maxw(data.qLabels), legendH = 56;
  const kw = maxw(data.kLabels);
  /* Key labels stand upright when they fit a cell (CJK characters, short words), else turn. */
  const upright = (c) => kw <= c - 4;
  let top = 10 + kw;
  if (state.view === 'lines') {
    const n = Math.max(data.lq, data.lk);
    const H = Math.min(PLOT_MAX, Math.max(240, 60 + n * 22));
    return { left: Math.max(left, 90), top, c: 0, w: 0, h: 0, W: PLOT_MAX, H, legendY: 0 };
  }
  let c = Math.min((PLOT_MAX - left - 12) / data.lk, (PLOT_MAX - top - legendH) / data.lq, CELL_MAX);
  if (c >= 1) c = Math.floor(c);
  if (upright(c)) {
    top = 26;
    c = Math.min((PLOT_MAX - left - 12) / data.lk, (PLOT_MAX - top - legendH) / data.lq, CELL_MAX);
    if (c >= 1) c = Math.floor(c);
  }
  const W = Math.max(440, Math.ceil(left + c * data.lk + 12));
  const H = Math.ceil(top + c * data.lq + legendH);
  return { left, top, c, w: c * data.lk, h: c * data.lq, W, H, legendY: top + c * data.lq + 14, upright: upright(c) };
}

function drawLegend(ctx, L, top) {
  const x0 = L.left, y = L.legendY, w = Math.min(260, L.W - L.left - 110);
  ctx.font = FONT;
  ctx.fillStyle = '#1d1d1f';
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  if (data.hard) {
    const sw = [[colourOf(0, true), 'not selected (0)'], [colourOf(1, true), 'selected (1)']];
    let x = x0;
    for (const [rgb, label] of sw) {
      ctx.fillStyle = hex(rgb);
      ctx.fillRect(x, y, 14, 14);
      ctx.fillStyle = '#1d1d1f';
      ctx.fillText(label, x + 18, y + 1);
      x += 24 + ctx.measureText(label).width;
    }
  } else {
    for (let k = 0; k < w; k++) {
      ctx.fillStyle = hex(colourOf(k / (w - 1), false));
      ctx.fillRect(x0 + k, y, 1, 12);
    }
    ctx.fillStyle = '#1d1d1f';
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      const x = x0 + t * (w - 1);
      ctx.fillRect(Math.round(x), y + 12, 1, 4);
      ctx.textAlign = t === 0 ? 'left' : (t === 1 ? 'right' : 'center');
      ctx.fillText(String(+(t * top).toPrecision(3)), x, y + 18);
    }
    ctx.textAlign = 'left';
  }
  const mx = x0 + (data.hard ? 260 : w + 24);
  ctx.fillStyle = hex(MASKED_RGB);
  ctx.fillRect(mx, y, 14, 14);
  hatch(ctx, mx, y, 14, 14);
  ctx.fillStyle = '#1d1d1f';
  ctx.fillText('masked', mx + 18, y + 1);
}

function hatch(ctx, x, y, w, h) {
  ctx.save();
  ctx.beginPath();
  ctx.rect(x, y, w, h);
  ctx.clip();
  ctx.strokeStyle = 'rgba(80,80,80,0.7)';
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let d = -h; d < w; d += 5) {
    ctx.moveTo(x + d, y + h);
    ctx.lineTo(x + d + h, y);
  }
  ctx.stroke();
  ctx.restore();
}

function labelStep(c) {
  return c >= 12 ? 1 : Math.ceil(12 / c);
}

function drawHeatmap(ctx, L, m) {
  const { lq, lk } = data;
  ctx.imageSmoothingEnabled = false;
  const top = colourTop(m);
  ctx.drawImage(raster(m, lq, lk, data.hard, data.allowed, top), L.left, L.top, L.w, L.h);
  if (L.c >= 8) {
    for (let i = 0; i < lq; i++)
      for (let j = 0; j < lk; j++)
        if (!data.allowed(i, j)) hatch(ctx, L.left + j * L.c, L.top + i * L.c, L.c, L.c);
  }
  ctx.font = FONT;
  ctx.fillStyle = '#1d1d1f';
  const step = labelStep(L.c);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i < lq; i += step) ctx.fillText(clip(data.qLabels[i]), L.left - 4, L.top + (i + 0.5) * L.c);
  ctx.save();
  ctx.textAlign = L.upright ? 'center' : 'left';
  ctx.textBaseline = L.upright ? 'bottom' : 'middle';
  for (let j = 0; j < lk; j += step) {
    ctx.save();
    ctx.translate(L.left + (j + 0.5) * L.c, L.top - 4);
    if (!L.upright) ctx.rotate(-Math.PI / 2);
    ctx.fillText(clip(data.kLabels[j]), 0, 0);
    ctx.restore();
  }
  ctx.restore();
  drawLegend(ctx, L, top);
}

function clip(s) {
  return s.length > 16 ? s.slice(0, 15) + '…' : s;
}

/* bertviz's head view: queries on the left, keys on the right, one line per (query, key) whose
 * opacity is the weight, one colour per head. */
function linesGeometry(L) {
  const n = Math.max(data.lq, data.lk);
  const rowH = Math.max(1, Math.min(22, (L.H - 80) / n));
  return { xl: L.left, xr: L.W - L.left, top: 30, rowH };
}

function drawLines(ctx, L, focusQuery) {
  const g = linesGeometry(L);
  const heads = data.layers[Math.min(state.layer, data.layers.length - 1)];
  const hs = selectedHeads();
  ctx.font = FONT;
  ctx.textBaseline = 'middle';
  const step = g.rowH >= 12 ? 1 : Math.ceil(12 / g.rowH);
  ctx.fillStyle = '#1d1d1f';
  ctx.textAlign = 'right';
  for (let i = 0; i < data.lq; i += step) {
    ctx.font = i === focusQuery ? 'bold ' + FONT : FONT;
    ctx.fillText(clip(data.qLabels[i]), g.xl - 6, g.top + (i + 0.5) * g.rowH);
  }
  ctx.textAlign = 'left';
  ctx.font = FONT;
  for (let j = 0; j < data.lk; j += step) ctx.fillText(clip(data.kLabels[j]), g.xr + 6, g.top + (j + 0.5) * g.rowH);
  ctx.lineWidth = 2;
  for (const h of hs) {
    ctx.strokeStyle = HEAD_COLOURS[h % HEAD_COLOURS.length];
    const m = heads[h];
    for (let i = 0; i < data.lq; i++) {
      if (focusQuery != null && i !== focusQuery) continue;
      for (let j = 0; j < data.lk; j++) {
        const w = m[i * data.lk + j];
        if (!data.allowed(i, j) || w < 0.01) continue;
        ctx.globalAlpha = Math.min(1, data.hard ? 1 : w) / Math.sqrt(hs.length);
        ctx.beginPath();
        ctx.moveTo(g.xl, g.top + (i + 0.5) * g.rowH);
        ctx.lineTo(g.xr, g.top + (j + 0.5) * g.rowH);
        ctx.stroke();
      }
    }
  }
  ctx.globalAlpha = 1;
  let x = g.xl;
  ctx.textBaseline = 'top';
  for (const h of hs) {
    ctx.fillStyle = HEAD_COLOURS[h % HEAD_COLOURS.length];
    ctx.fillRect(x, 6, 12, 12);
    ctx.fillStyle = '#1d1d1f';
    ctx.fillText('head ' + data.headNames[h], x + 16, 6);
    x += 30 + ctx.measureText('head ' + data.headNames[h]).width;
  }
}

/* Draws the whole plot into ctx (the page's canvas, or one made for an export). */
function drawPlot(ctx, focusQuery) {
  const L = computeLayout(ctx);
  if (ctx.canvas.width !== L.W || ctx.canvas.height !== L.H) {
    ctx.canvas.width = L.W; /* resets the context's state */
    ctx.canvas.height = L.H;
  }
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, L.W, L.H);
  if (state.view === 'lines') drawLines(ctx, L, focusQuery);
  else drawHeatmap(ctx, L, shownMatrix());
  return L;
}

function render() {
  if (!data) return;
  const canvas = $('plot');
  const ctx = canvas.getContext('2d');
  layout = drawPlot(ctx, state.view === 'lines' && hover ? hover[0] : null);
  baseImage = ctx.getImageData(0, 0, canvas.width, canvas.height);
  $('caption').textContent = caption();
  canvas.dataset.rows = String(data.lq);
  canvas.dataset.cols = String(data.lk);
  canvas.dataset.view = state.view;
  $('layer').value = String(state.layer);
  renderHeadButtons();
  renderGrid();
  overlay();
  writeUrl();
}

/* The hover and locked cells drawn over the plot, and their text. */
function overlay() {
  if (!data || !layout) return;
  const canvas = $('plot');
  const ctx = canvas.getContext('2d');
  if (state.view === 'lines') {
    describe(state.cell || hover);
    return;
  }
  ctx.putImageData(baseImage, 0, 0);
  const L = layout;
  const box = (cell, colour, width) => {
    if (!cell) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    const s = Math.max(L.c, 3);
    ctx.strokeRect(L.left + cell[1] * L.c - 1, L.top + cell[0] * L.c - 1, s + 2, s + 2);
  };
  box(hover, '#ffffff', 2);
  if (state.cell) {
    box(state.cell, '#000000', 3);
    box(state.cell, '#ffffff', 1);
  } else if (cursor && document.activeElement === canvas) {
    box(cursor, '#000000', 2);
  }
  describe(state.cell || hover || cursor);
}

function weightAt(cell) {
  return shownMatrix()[cell[0] * data.lk + cell[1]];
}

/* The text alternative of a cell: which query, which key, the exact weight, and the row's top. */
function describe(cell) {
  const p = $('cell-text');
  if (!cell || cell[0] >= data.lq || cell[1] >= data.lk) {
    p.textContent = state.view === 'lines' ? 'Hover over the plot to focus a query.' : 'Hover over or focus the heatmap (arrow keys) to read a cell.';
    return;
  }
  const [i, j] = cell;
  const m = shownMatrix();
  let best = 0;
  for (let k = 1; k < data.lk; k++) if (m[i * data.lk + k] > m[i * data.lk + best]) best = k;
  const w = m[i * data.lk + j];
  const state_ = data.allowed(i, j) ? '' : ' (masked)';
  p.textContent = `${state.cell ? 'Locked' : 'Cell'}: query ${i} “${data.qLabels[i]}” → key ${j} “${data.kLabels[j]}”: ` +
    `weight ${w}${state_}. This query's highest weight is on key ${best} “${data.kLabels[best]}” (${m[i * data.lk + best]}).`;
  p.dataset.row = String(i);
  p.dataset.col = String(j);
  p.dataset.weight = String(w);
}

function cellAt(ev) {
  const r = $('plot').getBoundingClientRect();
  const x = ev.clientX - r.left, y = ev.clientY - r.top;
  if (state.view === 'lines') {
    const g = linesGeometry(layout);
    const i = Math.floor((y - g.top) / g.rowH);
    return x < g.xl + 40 && i >= 0 && i < data.lq ? [i, 0] : null;
  }
  const j = Math.floor((x - layout.left) / layout.c), i = Math.floor((y - layout.top) / layout.c);
  return i >= 0 && j >= 0 && i < data.lq && j < data.lk ? [i, j] : null;
}

function showTooltip(ev, cell) {
  const t = $('tooltip');
  if (!cell || state.view === 'lines') {
    t.hidden = true;
    return;
  }
  const [i, j] = cell;
  const w = weightAt(cell);
  t.textContent = `${data.qLabels[i]} → ${data.kLabels[j]}: ${w}${data.allowed(i, j) ? '' : ' (masked)'}`;
  t.dataset.row = String(i);
  t.dataset.col = String(j);
  t.dataset.weight = String(w);
  const r = $('plot').getBoundingClientRect();
  t.style.left = (ev.clientX - r.left + 14) + 'px';
  t.style.top = (ev.clientY - r.top + 14) + 'px';
  t.hidden = false;
}

function renderHeadButtons() {
  const box = $('heads');
  const n = data.layers[Math.min(state.layer, data.layers.length - 1)].length;
  const hs = new Set(selectedHeads());
  if (box.childElementCount !== n) {
    box.textContent = 'Heads ';
    for (let h = 0; h < n; h++) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.head = String(h);
      b.textContent = data.headNames[h];
      b.style.borderColor = HEAD_COLOURS[h % HEAD_COLOURS.length];
      b.title = 'toggle head ' + data.headNames[h] + ' (several heads are averaged)';
      b.addEventListener('click', () => toggleHead(h));
      box.appendChild(b);
    }
  }
  for (const b of box.querySelectorAll('button'))
    b.setAttribute('aria-pressed', String(hs.has(parseInt(b.dataset.head, 10))));
}

function toggleHead(h) {
  const all = data.layers[state.layer].length;
  let hs = new Set(state.heads && state.heads.length ? state.heads : Array.from({ length: all }, (_, i) => i));
  if (hs.size === all) hs = new Set([h]); /* from "all", a click picks that head */
  else if (hs.has(h)) {
    if (hs.size > 1) hs.delete(h);
  } else hs.add(h);
  state.heads = [...hs].sort((a, b) => a - b);
  render();
}

function renderGrid() {
  const grid = $('grid');
  const nl = data.layers.length, nh = data.layers[0].length;
  const size = Math.max(32, Math.min(96, Math.floor(360 / nh)));
  const sc = Math.min(size / data.lk, size / data.lq);
  const cw = sc >= 1 ? Math.floor(sc) * data.lk : size, ch = sc >= 1 ? Math.floor(sc) * data.lq : size;
  grid.style.gridTemplateColumns = `auto repeat(${nh}, ${cw + 4}px)`;
  grid.textContent = '';
  grid.appendChild(document.createElement('span'));
  for (let h = 0; h < nh; h++) {
    const s = document.createElement('span');
    s.className = 'label';
    s.textContent = 'head ' + data.headNames[h];
    grid.appendChild(s);
  }
  const hs = new Set(selectedHeads());
  for (let l = 0; l < nl; l++) {
    const s = document.createElement('span');
    s.className = 'label';
    s.textContent = 'layer ' + data.layerNames[l];
    grid.appendChild(s);
    for (let h = 0; h < nh; h++) {
      const c = document.createElement('canvas');
      c.width = cw;
      c.height = ch;
      c.dataset.layer = String(l);
      c.dataset.head = String(h);
      c.dataset.rows = String(data.lq);
      c.dataset.cols = String(data.lk);
      c.setAttribute('role', 'button');
      c.tabIndex = 0;
      c.setAttribute('aria-label', `open layer ${data.layerNames[l]} head ${data.headNames[h]}`);
      if (l === state.layer && hs.size === 1 && hs.has(h)) c.className = 'selected';
      const ctx = c.getContext('2d');
      ctx.imageSmoothingEnabled = false;
      const m = data.layers[l][h];
      ctx.drawImage(raster(m, data.lq, data.lk, data.hard, data.allowed, colourTop(m)), 0, 0, cw, ch);
      const open = () => {
        state.layer = l;
        state.heads = [h];
        state.view = 'heatmap';
        setView();
      };
      c.addEventListener('click', open);
      c.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          open();
        }
      });
      grid.appendChild(c);
    }
  }
}

function setView() {
  $('view-heatmap').setAttribute('aria-pressed', String(state.view === 'heatmap'));
  $('view-lines').setAttribute('aria-pressed', String(state.view === 'lines'));
  hover = null;
  render();
}

function renderLayers() {
  const box = $('layer-box'), sel = $('layer');
  box.hidden = data.layers.length < 2;
  sel.textContent = '';
  data.layerNames.forEach((name, l) => {
    const o = document.createElement('option');
    o.value = String(l);
    o.textContent = name;
    sel.appendChild(o);
  });
  if (state.layer >= data.layers.length) state.layer = 0;
  sel.value = String(state.layer);
}

/* ---- running a request ---- */
let lastText = '';

async function run() {
  formToState();
  showError(null);
  let req;
  try {
    req = requestBody();
  } catch (e) {
    showError(e);
    return;
  }
  $('status').textContent = 'Computing…';
  const t0 = performance.now();
  try {
    const { json, text } = await api(req.path, JSON.stringify(req.body));
    data = normalise(json, req);
    lastText = text;
  } catch (e) {
    $('status').textContent = '';
    showError(e);
    writeUrl();
    return;
  }
  if (state.cell && (state.cell[0] >= data.lq || state.cell[1] >= data.lk)) state.cell = null;
  $('result').hidden = false;
  renderLayers();
  setView();
  const ms = data.meta.compute_ms !== undefined ? `, computed in ${data.meta.compute_ms} ms` : '';
  $('status').textContent = `${req.path}: ${data.layers.length} layer(s) × ${data.layers[0].length} head(s) of ` +
    `${data.lq} × ${data.lk}${ms}, drawn in ${Math.round(performance.now() - t0)} ms.`;
  document.body.dataset.ready = String((+document.body.dataset.ready || 0) + 1);
}

/* ---- exports ---- */
function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function baseName() {
  return 'attnd-' + (state.mode === 'model' ? state.model : 'attention') + '-' + state.view;
}

function exportPng() {
  const c = document.createElement('canvas');
  drawPlot(c.getContext('2d'), null);
  c.toBlob((b) => download(b, baseName() + '.png'), 'image/png');
}

const esc = (s) => String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch]));

/* The current view as SVG: one rect per cell (a raster image above 65536 cells), vector labels
 * and legend; or the line view's lines. */
function svgText() {
  const scratch = document.createElement('canvas').getContext('2d');
  const L = computeLayout(scratch);
  const W = L.W, H = L.H;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${esc(caption())}</title>`,
    '<defs><pattern id="masked" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
    `<rect width="5" height="5" fill="${hex(MASKED_RGB)}"/><line x1="0" y1="0" x2="0" y2="5" stroke="#505050" stroke-width="1"/></pattern></defs>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`];
  if (state.view === 'lines') {
    const g = linesGeometry(L);
    const heads = data.layers[state.layer];
    for (let i = 0; i < data.lq; i++) out.push(`<text x="${g.xl - 6}" y="${g.top + (i + 0.5) * g.rowH}" text-anchor="end" dominant-baseline="middle">${esc(data.qLabels[i])}</text>`);
    for (let j = 0; j < data.lk; j++) out.push(`<text x="${g.xr + 6}" y="${g.top + (j + 0.5) * g.rowH}" dominant-baseline="middle">${esc(data.kLabels[j])}</text>`);
    const hs = selectedHeads();
    for (const h of hs) {
      const m = heads[h];
      for (let i = 0; i < data.lq; i++)
        for (let j = 0; j < data.lk; j++) {
          const w = m[i * data.lk + j];
          if (!data.allowed(i, j) || w < 0.01) continue;
          out.push(`<line x1="${g.xl}" y1="${g.top + (i + 0.5) * g.rowH}" x2="${g.xr}" y2="${g.top + (j + 0.5) * g.rowH}" stroke="${HEAD_COLOURS[h % HEAD_COLOURS.length]}" stroke-width="2" stroke-opacity="${(Math.min(1, data.hard ? 1 : w) / Math.sqrt(hs.length)).toFixed(4)}"/>`);
        }
    }
  } else {
    const m = shownMatrix();
    const top = colourTop(m);
    if (data.lq * data.lk > 65536) {
      const r = raster(m, data.lq, data.lk, data.hard, data.allowed, top);
      out.push(`<image x="${L.left}" y="${L.top}" width="${L.w}" height="${L.h}" preserveAspectRatio="none" style="image-rendering:pixelated" href="${r.toDataURL('image/png')}"/>`);
    } else {
      for (let i = 0; i < data.lq; i++)
        for (let j = 0; j < data.lk; j++) {
          const ok = data.allowed(i, j), w = m[i * data.lk + j];
          out.push(`<rect x="${L.left + j * L.c}" y="${L.top + i * L.c}" width="${L.c}" height="${L.c}" fill="${ok ? hex(colourOf(w / top, data.hard)) : 'url(#masked)'}"><title>${esc(data.qLabels[i])} → ${esc(data.kLabels[j])}: ${w}</title></rect>`);
        }
    }
    const step = labelStep(L.c);
    for (let i = 0; i < data.lq; i += step) out.push(`<text x="${L.left - 4}" y="${L.top + (i + 0.5) * L.c}" text-anchor="end" dominant-baseline="middle">${esc(data.qLabels[i])}</text>`);
    for (let j = 0; j < data.lk; j += step) out.push(`<text transform="translate(${L.left + (j + 0.5) * L.c} ${L.top - 4})${L.upright ? '' : ' rotate(-90)'}"${L.upright ? ' text-anchor="middle"' : ' dominant-baseline="middle"'}>${esc(data.kLabels[j])}</text>`);
    const y = L.legendY;
    if (!data.hard) {
      out.push('<defs><linearGradient id="scale">' + Array.from({ length: 11 }, (_, k) => `<stop offset="${k / 10}" stop-color="${hex(colourOf(k / 10, false))}"/>`).join('') + '</linearGradient></defs>');
      out.push(`<rect x="${L.left}" y="${y}" width="260" height="12" fill="url(#scale)"/>`);
      for (const t of [0, 0.5, 1]) out.push(`<text x="${L.left + t * 259}" y="${y + 28}" text-anchor="${t === 0 ? 'start' : (t === 1 ? 'end' : 'middle')}">${+(t * top).toPrecision(3)}</text>`);
    } else {
      out.push(`<rect x="${L.left}" y="${y}" width="14" height="14" fill="${hex(colourOf(0, true))}"/><text x="${L.left + 18}" y="${y + 11}">not selected (0)</text>`);
      out.push(`<rect x="${L.left + 130}" y="${y}" width="14" height="14" fill="${hex(colourOf(1, true))}"/><text x="${L.left + 148}" y="${y + 11}">selected (1)</text>`);
    }
    out.push(`<rect x="${L.left + 284}" y="${y}" width="14" height="14" fill="url(#masked)"/><text x="${L.left + 302}" y="${y + 11}">masked</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

function exportSvg() {
  download(new Blob([svgText()], { type: 'image/svg+xml' }), baseName() + '.svg');
}

function exportJson() {
  download(new Blob([lastText], { type: 'application/json' }), baseName() + '.json');
}

/* ---- events ---- */
function moveCursor(di, dj, abs) {
  const c = state.cell || cursor || [0, 0];
  let i = abs ? abs[0] : c[0] + di, j = abs ? abs[1] : c[1] + dj;
  i = Math.max(0, Math.min(data.lq - 1, i));
  j = Math.max(0, Math.min(data.lk - 1, j));
  cursor = [i, j];
  if (state.cell) state.cell = [i, j];
  overlay();
  writeUrl();
}

function bind() {
  $('request').addEventListener('submit', (ev) => {
    ev.preventDefault();
    run();
  });
  $('mode').addEventListener('change', () => {
    formToState();
    stateToForm();
  });
  const key = sessionStorage.getItem('attnd-api-key');
  if (key) $('apikey').value = key;
  $('apikey').addEventListener('change', () => {
    sessionStorage.setItem('attnd-api-key', apiKey());
    loadModels();
  });
  $('view-heatmap').addEventListener('click', () => {
    state.view = 'heatmap';
    setView();
  });
  $('view-lines').addEventListener('click', () => {
    state.view = 'lines';
    setView();
  });
  $('stretch').addEventListener('change', () => {
    state.stretch = $('stretch').checked;
    render();
  });
  $('avg').addEventListener('click', () => {
    state.heads = null;
    render();
  });
  $('layer').addEventListener('change', () => {
    state.layer = parseInt($('layer').value, 10) || 0;
    render();
  });
  $('export-png').addEventListener('click', exportPng);
  $('export-svg').addEventListener('click', exportSvg);
  $('export-json').addEventListener('click', exportJson);
  const plot = $('plot');
  plot.addEventListener('mousemove', (ev) => {
    if (!data) return;
    const c = cellAt(ev);
    const same = (a, b) => (a === b) || (a && b && a[0] === b[0] && a[1] === b[1]);
    if (!same(c, hover)) {
      hover = c;
      if (state.view === 'lines') render();
      else overlay();
    }
    showTooltip(ev, c);
  });
  plot.addEventListener('mouseleave', () => {
    hover = null;
    $('tooltip').hidden = true;
    if (data) (state.view === 'lines' ? render : overlay)();
  });
  plot.addEventListener('click', (ev) => {
    if (!data || state.view === 'lines') return;
    const c = cellAt(ev);
    if (!c) return;
    const locked = state.cell && state.cell[0] === c[0] && state.cell[1] === c[1];
    state.cell = locked ? null : c;
    cursor = c;
    overlay();
    writeUrl();
  });
  plot.addEventListener('focus', () => {
    if (data && !cursor) cursor = state.cell || [0, 0];
    overlay();
  });
  plot.addEventListener('blur', overlay);
  plot.addEventListener('keydown', (ev) => {
    if (!data || state.view === 'lines') return;
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const c = state.cell || cursor || [0, 0];
    if (moves[ev.key]) moveCursor(...moves[ev.key]);
    else if (ev.key === 'Home') moveCursor(0, 0, [c[0], 0]);
    else if (ev.key === 'End') moveCursor(0, 0, [c[0], data.lk - 1]);
    else if (ev.key === 'PageUp') moveCursor(0, 0, [0, c[1]]);
    else if (ev.key === 'PageDown') moveCursor(0, 0, [data.lq - 1, c[1]]);
    else if (ev.key === 'Enter' || ev.key === ' ') {
      state.cell = state.cell ? null : c.slice();
      overlay();
      writeUrl();
    } else if (ev.key === 'Escape') {
      state.cell = null;
      overlay();
      writeUrl();
    } else return;
    ev.preventDefault();
  });
}

const DEFAULT_RAW = '{"query": [[1.0]], "key": [[1.6094379], [1.0986123], [0.6931472]], ' +
  '"value": [[1,0,0], [0,1,0], [0,0,1]], "score": "dot"}';

async function main() {
  bind();
  const fromUrl = readUrl();
  if (!fromUrl) {
    state.text = 'welcome to Beijing';
    state.source = '欢迎来北京';
  }
  if (!state.raw) state.raw = DEFAULT_RAW;
  await loadModels();
  stateToForm();
  if (state.mode === 'raw' || models.length) await run();
}

/* For tests and the console: the data behind the picture. */
window.attndExplorer = {
  colourOf,
  get data() { return data; },
  get layout() { return layout; },
  shownMatrix: () => shownMatrix(),
  svgText: () => svgText(),
  colourTop: () => colourTop(shownMatrix()),
  cellCenter: (i, j) => [layout.left + (j + 0.5) * layout.c, layout.top + (i + 0.5) * layout.c],
};

main();

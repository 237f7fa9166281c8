/* make test-ui: the explorer page in a real browser (Debian's chromium driven by playwright-core)
 * against the real daemon, every number compared with what the API answers for the same request.
 * Also validates /openapi.json with @apidevtools/swagger-parser. Screenshots go to $OUT_DIR.
 * Ends with "N passed, N failed"; exits 1 on any failure.
 *   node tests/ui/explorer_test.js ATTND_BINARY OUT_DIR   (NODE_PATH: where npm installed) */
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const SwaggerParser = require('@apidevtools/swagger-parser');

const [attndBin, outDir] = process.argv.slice(2);
if (!attndBin || !outDir) {
  console.error('usage: node explorer_test.js ATTND_BINARY OUT_DIR');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail !== undefined ? ': ' + detail : ''}`);
  }
}

/* Starts attnd on a free port; resolves with {proc, base}. */
function startDaemon() {
  return new Promise((resolve, reject) => {
    const proc = spawn(attndBin, ['--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => reject(new Error('attnd did not start: ' + log)), 30000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /msg=listening url=(http:\/\/127\.0\.0\.1:\d+)\//.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: m[1] });
      }
    });
    proc.on('exit', (code) => reject(new Error(`attnd exited (${code}): ${log}`)));
  });
}

async function post(base, p, body) {
  const res = await fetch(base + p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  return res.json();
}

const VIEWPORT = { width: 1280, height: 1000 };
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps'];

async function browserContext() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'attnd-ui-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, viewport: VIEWPORT,
    deviceScaleFactor: 1, acceptDownloads: true,
  });
  return { ctx, profile };
}

/* A page that records console errors and uncaught exceptions. */
async function openPage(ctx, url, errors) {
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
  await page.goto(url);
  return page;
}

async function runs(page) {
  return page.evaluate(() => +document.body.dataset.ready || 0);
}

async function waitRuns(page, n) {
  await page.waitForFunction((k) => (+document.body.dataset.ready || 0) >= k, n, { timeout: 60000 });
}

/* Presses Run and waits for the drawing. */
async function run(page) {
  const n = await runs(page);
  await page.click('#run');
  await waitRuns(page, n + 1);
}

/* The plot's pixel at the centre of cell (i, j), and that centre in page coordinates. */
async function cellPixel(page, i, j) {
  return page.evaluate(([i, j]) => {
    const c = document.getElementById('plot');
    c.scrollIntoView({ block: 'nearest' });
    const [x, y] = attndExplorer.cellCenter(i, j);
    const r = c.getBoundingClientRect();
    const d = c.getContext('2d').getImageData(Math.floor(x), Math.floor(y), 1, 1).data;
    return { rgb: [d[0], d[1], d[2]], x: r.left + x, y: r.top + y };
  }, [i, j]);
}

async function colourOf(page, w, hard) {
  return page.evaluate(([w, hard]) => attndExplorer.colourOf(w, hard), [w, hard]);
}

const near = (a, b, tol) => a.every((v, k) => Math.abs(v - b[k]) <= tol);

async function hoverWeight(page, i, j) {
  const { x, y } = await cellPixel(page, i, j);
  await page.mouse.move(x, y);
  return page.evaluate(() => {
    const t = document.getElementById('tooltip');
    return { hidden: t.hidden, row: +t.dataset.row, col: +t.dataset.col, weight: +t.dataset.weight, text: t.textContent };
  });
}

async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return fs.readFileSync(await dl.path());
}

async function main() {
  const { proc, base } = await startDaemon();
  const { ctx, profile } = await browserContext();
  const errors = [];
  try {
    /* ---- OpenAPI ---- */
    const spec = await (await fetch(base + '/openapi.json')).json();
    try {
      await SwaggerParser.validate(JSON.parse(JSON.stringify(spec)));
      check('openapi.json is valid OpenAPI 3.1 (swagger-parser)', spec.openapi === '3.1.0');
    } catch (e) {
      check('openapi.json is valid OpenAPI 3.1 (swagger-parser)', false, e.message);
    }

    /* ---- the trained model, default view ---- */
    const page = await openPage(ctx, base + '/', errors);
    await waitRuns(page, 1);
    await page.screenshot({ path: path.join(outDir, 'explorer-zh-en.png'), fullPage: true });
    /* The README's picture (docs/explorer-zh-en.png is a copy): the result, a cell hovered. */
    const at = await cellPixel(page, 2, 3);
    await page.mouse.move(at.x, at.y);
    await (await page.$('#result')).screenshot({ path: path.join(outDir, 'explorer-readme.png') });
    await page.mouse.move(5, 5);
    const body = { text: 'welcome to Beijing', source: { text: '欢迎来北京' }, score: 'scaled_dot', selection: 'soft', causal: false };
    const api = await post(base, '/v1/models/zh-en/attention', body);
    const apiAvg = await post(base, '/v1/models/zh-en/attention', Object.assign({ average_heads: true }, body));
    const H = api.weights.length, Lq = api.weights[0].length, Lk = api.weights[0][0].length;
    const cells = await page.evaluate(() => [...document.querySelectorAll('#grid canvas')]
      .map((c) => +c.dataset.rows * +c.dataset.cols));
    check('thumbnails: one per head', cells.length === H, `${cells.length} vs ${H}`);
    check('heatmap cells = H × Lq × Lk', cells.reduce((a, b) => a + b, 0) === H * Lq * Lk,
      `${cells.reduce((a, b) => a + b, 0)} vs ${H}×${Lq}×${Lk}`);
    const labels = await page.evaluate(() => [attndExplorer.data.qLabels, attndExplorer.data.kLabels]);
    check('row and column labels are the tokens', JSON.stringify(labels) === JSON.stringify([api.tokens, api.source_tokens]), JSON.stringify(labels));

    /* Each head opened from its thumbnail: every cell drawn in the colour of the API's weight. */
    let bad = [];
    for (let h = 0; h < H; h++) {
      await page.click(`#grid canvas[data-head="${h}"]`);
      const cap = await page.textContent('#caption');
      if (!cap.startsWith(`head ${h}:`)) bad.push(`caption "${cap}"`);
      for (let i = 0; i < Lq; i++)
        for (let j = 0; j < Lk; j++) {
          const px = await cellPixel(page, i, j);
          const want = await colourOf(page, api.weights[h][i][j], false);
          if (!near(px.rgb, want, 2)) bad.push(`h${h} (${i},${j}) ${px.rgb} vs ${want}`);
        }
    }
    check('every cell of every head has the colour of its weight', bad.length === 0, bad.slice(0, 5).join('; '));

    /* Hover: the exact number of the API. */
    await page.click('#grid canvas[data-head="2"]');
    bad = [];
    for (let i = 0; i < Lq; i++)
      for (let j = 0; j < Lk; j++) {
        const t = await hoverWeight(page, i, j);
        if (t.hidden || t.row !== i || t.col !== j || t.weight !== api.weights[2][i][j]) bad.push(`(${i},${j}) ${t.text}`);
      }
    check('hover shows the query, the key and the API\'s exact weight', bad.length === 0, bad.slice(0, 3).join('; '));
    const t0 = await hoverWeight(page, 2, 3);
    check('tooltip names the query and key tokens', t0.text.startsWith(`${api.tokens[2]} → ${api.source_tokens[3]}: `), t0.text);

    /* Average heads, and toggling: the picture follows the numbers. */
    await page.click('#avg');
    bad = [];
    for (let i = 0; i < Lq; i++)
      for (let j = 0; j < Lk; j++) {
        const t = await hoverWeight(page, i, j);
        if (Math.abs(t.weight - apiAvg.weights[i][j]) > 1e-6) bad.push(`(${i},${j}) ${t.weight} vs ${apiAvg.weights[i][j]}`);
        const px = await cellPixel(page, i, j);
        const want = await colourOf(page, apiAvg.weights[i][j], false);
        if (!near(px.rgb, want, 2)) bad.push(`colour (${i},${j})`);
      }
    check('average heads = the API\'s average_heads, in numbers and colours', bad.length === 0, bad.slice(0, 3).join('; '));
    /* From all heads, a head button shows that head alone, and the picture changes where its
     * numbers differ from the average: the cell where they differ most. */
    let far = { d: -1 };
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Lq; i++)
        for (let j = 0; j < Lk; j++) {
          const d = Math.abs(api.weights[h][i][j] - apiAvg.weights[i][j]);
          if (d > far.d) far = { d, h, i, j };
        }
    const avgPx = (await cellPixel(page, far.i, far.j)).rgb;
    await page.click(`#heads button[data-head="${far.h}"]`);
    const headPx = (await cellPixel(page, far.i, far.j)).rgb;
    const wantHead = await colourOf(page, api.weights[far.h][far.i][far.j], false);
    check(`head ${far.h} alone: cell (${far.i}, ${far.j}) changes colour as its weight differs from the average by ${far.d.toFixed(3)}`,
      far.d > 0.05 && near(headPx, wantHead, 2) && !near(headPx, avgPx, 10), `${avgPx} -> ${headPx} (want ${wantHead})`);
    /* Adding a second head averages the two. */
    const h2 = (far.h + 1) % H;
    await page.click(`#heads button[data-head="${h2}"]`);
    bad = [];
    for (let i = 0; i < Lq; i++)
      for (let j = 0; j < Lk; j++) {
        const want = (api.weights[far.h][i][j] + api.weights[h2][i][j]) / 2;
        const t = await hoverWeight(page, i, j);
        if (Math.abs(t.weight - want) > 1e-9) bad.push(`(${i},${j}) ${t.weight} vs ${want}`);
      }
    const pressed = await page.evaluate(() => [...document.querySelectorAll('#heads button')].map((b) => b.getAttribute('aria-pressed') === 'true'));
    check(`toggling heads ${far.h} and ${h2} shows their mean`, bad.length === 0 && pressed.filter((x) => x).length === 2 && pressed[far.h] && pressed[h2], bad.slice(0, 3).join('; ') + ' ' + pressed);

    /* Keyboard: arrows move between cells, Enter locks, the text alternative follows. */
    await page.click('#grid canvas[data-head="1"]');
    await page.focus('#plot');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const text = await page.evaluate(() => { const p = document.getElementById('cell-text'); return { row: +p.dataset.row, col: +p.dataset.col, weight: +p.dataset.weight, text: p.textContent }; });
    check('keyboard reaches cell (1, 1) and locks it; the text names it with its weight',
      text.row === 1 && text.col === 1 && text.weight === api.weights[1][1][1] && text.text.startsWith('Locked: query 1 “to” → key 1'), text.text);
    check('the locked cell is in the URL', page.url().includes('cell=1%2C1'), page.url());
    await page.mouse.move(5, 5);

    /* Exports. */
    const png = await download(page, '#export-png');
    const sig = png.subarray(0, 8).toString('hex') === '89504e470d0a1a0a';
    const pw = png.readUInt32BE(16), ph = png.readUInt32BE(20);
    const plot = await page.evaluate(() => [document.getElementById('plot').width, document.getElementById('plot').height]);
    check('PNG export: a PNG of the plot\'s size', sig && pw === plot[0] && ph === plot[1], `${sig} ${pw}x${ph} vs ${plot}`);
    const svg = (await download(page, '#export-svg')).toString('utf8');
    const svgCheck = await page.evaluate((s) => {
      const doc = new DOMParser().parseFromString(s, 'image/svg+xml');
      return { error: !!doc.querySelector('parsererror'), root: doc.documentElement.nodeName, cells: doc.querySelectorAll('rect > title').length };
    }, svg);
    check('SVG export: well-formed SVG with one rect per cell', !svgCheck.error && svgCheck.root === 'svg' && svgCheck.cells === Lq * Lk, JSON.stringify(svgCheck));
    const json = JSON.parse((await download(page, '#export-json')).toString('utf8'));
    check('JSON export: the API response', JSON.stringify(json.weights) === JSON.stringify(api.weights));

    /* The shared URL restores the view. */
    const shared = page.url();
    const before = await page.evaluate(() => [document.getElementById('caption').textContent, document.getElementById('cell-text').textContent, document.getElementById('plot').toDataURL()]);
    const page2 = await openPage(ctx, shared, errors);
    await waitRuns(page2, 1);
    const after = await page2.evaluate(() => [document.getElementById('caption').textContent, document.getElementById('cell-text').textContent, document.getElementById('plot').toDataURL()]);
    check('the shared URL restores caption, locked cell and picture', before[0] === after[0] && before[1] === after[1] && before[2] === after[2], `${before[0]} | ${after[0]} | ${before[1]} | ${after[1]}`);
    await page2.close();

    /* The line view. */
    await page.click('#avg');
    await page.click('#view-lines');
    await page.screenshot({ path: path.join(outDir, 'explorer-lines.png'), fullPage: true });
    check('line view drawn', await page.evaluate(() => document.getElementById('plot').dataset.view === 'lines'));
    const lsvg = (await download(page, '#export-svg')).toString('utf8');
    let wantLines = 0;
    for (let h = 0; h < H; h++) for (const row of api.weights[h]) for (const w of row) if (w >= 0.01) wantLines++;
    const gotLines = await page.evaluate((s) => {
      const doc = new DOMParser().parseFromString(s, 'image/svg+xml');
      return doc.querySelector('parsererror') ? -1 : doc.querySelectorAll('line[stroke-opacity]').length;
    }, lsvg);
    check('line view SVG: one line per (head, query, key) of weight >= 0.01', gotLines === wantLines, `${gotLines} vs ${wantLines}`);
    await page.click('#view-heatmap');

    /* Causal self-attention: the upper triangle masked. */
    await page.fill('#source', '');
    await page.fill('#text', 'I go to Beijing every day');
    await page.check('#causal');
    await run(page);
    const capi = await post(base, '/v1/models/zh-en/attention', { text: 'I go to Beijing every day', causal: true, average_heads: true });
    const L = capi.weights.length;
    bad = [];
    for (let i = 0; i < L; i++)
      for (let j = 0; j < L; j++) {
        const px = await cellPixel(page, i, j);
        const grey = px.rgb[0] === px.rgb[1] && px.rgb[1] === px.rgb[2];
        if ((j > i) !== grey) bad.push(`(${i},${j}) ${px.rgb}`);
        if (j > i && capi.weights[i][j] !== 0) bad.push(`API (${i},${j}) = ${capi.weights[i][j]}`);
      }
    check('causal: exactly the upper triangle is drawn masked', bad.length === 0, bad.slice(0, 4).join('; '));
    await page.screenshot({ path: path.join(outDir, 'explorer-causal.png'), fullPage: true });

    /* Stretched colours: the largest weight shown at the top of the scale. */
    await page.check('#stretch');
    const maxW = Math.max(...capi.weights.map((r) => Math.max(...r)));
    const top = await page.evaluate(() => attndExplorer.colourTop());
    bad = [];
    for (const [i, j] of [[1, 0], [3, 2], [5, 5]]) {
      const { rgb } = await cellPixel(page, i, j);
      const want = await colourOf(page, (await hoverWeight(page, i, j)).weight / top, false);
      if (!near(rgb, want, 2)) bad.push(`(${i},${j}) ${rgb} vs ${want}`);
    }
    check('stretch colours: the scale spans 0 to the largest weight', Math.abs(top - maxW) < 1e-6 && bad.length === 0, `${top} vs ${maxW}; ${bad.join('; ')}`);
    await page.uncheck('#stretch');

    /* Hard attention: 0/1 cells. */
    await page.uncheck('#causal');
    await page.fill('#source', '欢迎来北京');
    await page.fill('#text', 'welcome to Beijing');
    await page.selectOption('#selection', 'topk');
    await page.fill('#k', '2');
    await run(page);
    await page.click('#avg');
    const hapi = await post(base, '/v1/models/zh-en/attention', { text: 'welcome to Beijing', source: { text: '欢迎来北京' }, selection: 'topk', k: 2 });
    await page.click('#grid canvas[data-head="0"]');
    bad = [];
    for (let i = 0; i < Lq; i++)
      for (let j = 0; j < Lk; j++) {
        const px = await cellPixel(page, i, j);
        const want = await colourOf(page, hapi.weights[0][i][j] > 0 ? 1 : 0, false);
        if (!near(px.rgb, want, 2)) bad.push(`(${i},${j})`);
      }
    check('top-k: selected keys drawn as 1, the rest as 0', bad.length === 0, bad.join('; '));
    await page.screenshot({ path: path.join(outDir, 'explorer-topk.png'), fullPage: true });

    /* Raw Q/K/V for /v1/attention: the seq2seq example, 0.5 / 0.3 / 0.2. */
    await page.selectOption('#selection', 'soft');
    await page.selectOption('#mode', 'raw');
    await page.fill('#raw', '{"query": [[1.0]], "key": [[1.6094379], [1.0986123], [0.6931472]], "value": [[1,0,0], [0,1,0], [0,0,1]], "score": "dot"}');
    await run(page);
    const raw = [];
    for (let j = 0; j < 3; j++) raw.push((await hoverWeight(page, 0, j)).weight);
    check('raw Q/K/V: the weights 0.5, 0.3, 0.2 of the README', raw.join() === '0.5,0.3,0.19999999', raw.join());

    /* 1024 x 1024 in one head: drawn, and hovering stays exact. */
    const n = 1024, q = [];
    for (let i = 0; i < n; i++) q.push([Math.sin(i * 0.37), Math.cos(i * 0.11), Math.sin(i * 0.05)]);
    const bigBody = { query: q };
    await page.evaluate((s) => { document.getElementById('raw').value = s; }, JSON.stringify(bigBody));
    const tb = Date.now();
    await run(page);
    const drawMs = Date.now() - tb;
    const big = await post(base, '/v1/attention', Object.assign({ score: 'scaled_dot', selection: 'soft', causal: false }, bigBody));
    const dims = await page.evaluate(() => [+document.getElementById('plot').dataset.rows, +document.getElementById('plot').dataset.cols]);
    const tb2 = Date.now();
    /* A cell is under a pixel wide here, so the mouse lands within two cells of the aim; the
     * tooltip must give the exact weight of the cell it names. */
    const probes = [[3, 5], [511, 700], [1020, 1019], [100, 900]];
    bad = [];
    for (const [i, j] of probes) {
      const t = await hoverWeight(page, i, j);
      if (t.hidden || Math.abs(t.row - i) > 2 || Math.abs(t.col - j) > 2 || t.weight !== big.weights[t.row][t.col]) bad.push(`(${i},${j}) ${t.row},${t.col} ${t.weight} vs ${big.weights[t.row][t.col]}`);
    }
    const hoverMs = (Date.now() - tb2) / probes.length;
    check(`1024 × 1024: drawn (request + draw ${drawMs} ms), hover exact (${hoverMs.toFixed(0)} ms per move)`, dims[0] === n && dims[1] === n && bad.length === 0, bad.join('; '));
    await page.screenshot({ path: path.join(outDir, 'explorer-1024.png'), fullPage: true });
    await page.close();

    /* Multi-layer models (issue 13's BERT and GPT-2) answer "attentions" [layers, H, L, L]. No
     * model of this daemon does yet, so the browser's request routing answers in that shape,
     * with numbers that identify each (layer, head, row, column). */
    const pageM = await openPage(ctx, base + '/', errors);
    await waitRuns(pageM, 1);
    const NL = 3, NH = 2, LL = 4;
    const att = [];
    for (let l = 0; l < NL; l++) {
      att.push([]);
      for (let h = 0; h < NH; h++) {
        const m = [];
        for (let i = 0; i < LL; i++) {
          const row = [];
          for (let j = 0; j < LL; j++) row.push(j > i ? 0 : (l * 100 + h * 10 + i + j + 1) / 1000);
          m.push(row);
        }
        att[l].push(m);
      }
    }
    await pageM.route('**/v1/models/*/attention', (r) => r.fulfill({ status: 200, contentType: 'application/json',
      body: JSON.stringify({ tokens: ['[CLS]', 'a', 'b', '[SEP]'], attentions: att, meta: { model: 'bert', layers: [0, 1, 2], heads: [0, 1], causal: true } }) }));
    await pageM.fill('#source', '');
    await run(pageM);
    const grid = await pageM.evaluate(() => [...document.querySelectorAll('#grid canvas')].map((c) => [+c.dataset.layer, +c.dataset.head, +c.dataset.rows * +c.dataset.cols]));
    const layerBox = await pageM.evaluate(() => !document.getElementById('layer-box').hidden && document.getElementById('layer').options.length);
    check('multi-layer: a layers × heads grid of thumbnails, cells = layers × H × L × L',
      grid.length === NL * NH && grid.reduce((a, g) => a + g[2], 0) === NL * NH * LL * LL && layerBox === NL, JSON.stringify(grid));
    await pageM.click('#grid canvas[data-layer="2"][data-head="1"]');
    const tm = await hoverWeight(pageM, 3, 1);
    const capM = await pageM.textContent('#caption');
    const layerSel = await pageM.evaluate(() => document.getElementById('layer').value);
    check('multi-layer: a thumbnail opens that layer and head', tm.weight === att[2][1][3][1] && capM.startsWith('layer 2, head 1') && layerSel === '2', `${tm.text} | ${capM} | layer select ${layerSel}`);
    await pageM.screenshot({ path: path.join(outDir, 'explorer-layers.png'), fullPage: true });
    await pageM.close();

    check('no console errors', errors.length === 0, errors.join(' | '));

    /* API keys: the key goes out as a Bearer token, and a 401 is explained. This daemon has no
     * keys, so the 401 is the answer a keyed daemon gives (issue 11), served by the browser's
     * request routing; its console error is expected and not counted above. */
    const page3 = await ctx.newPage();
    const seen = [];
    page3.on('request', (r) => { if (r.url().includes('/v1/')) seen.push(r.headers().authorization || ''); });
    await page3.goto(base + '/');
    await waitRuns(page3, 1);
    await page3.fill('#apikey', 'k-123');
    await run(page3);
    check('with a key, API requests carry Authorization: Bearer KEY', seen.length >= 2 && seen[0] === '' && seen[seen.length - 1] === 'Bearer k-123', seen.join(','));
    /* Bad input: the API's error shown as it is, the page still usable (console errors of the
     * 400 are expected here). */
    await page3.selectOption('#mode', 'raw');
    await page3.fill('#raw', '{"query": [[1,2],[3]]}');
    await page3.click('#run');
    await page3.waitForSelector('#error:not([hidden])');
    const e400 = await page3.textContent('#error');
    await page3.fill('#raw', '{"query": [[1,2]');
    await page3.click('#run');
    const eParse = await page3.textContent('#error');
    await page3.fill('#raw', '{"query": [[1,2],[3,4]]}');
    await run(page3);
    const cleared = await page3.evaluate(() => document.getElementById('error').hidden);
    check('bad input: the API\'s 400 and a JSON syntax error are shown; a good request clears them',
      e400.startsWith('400 invalid_shape: query[1]: expected 2 elements') && eParse.startsWith('The JSON body does not parse') && cleared, `${e400} | ${eParse}`);
    await page3.selectOption('#mode', 'model');
    await page3.route('**/v1/**', (r) => r.fulfill({ status: 401, contentType: 'application/json', headers: { 'WWW-Authenticate': 'Bearer' }, body: '{"error":{"code":"unauthorized","message":"a valid API key is required"}}' }));
    await page3.click('#run');
    await page3.waitForSelector('#error:not([hidden])');
    const msg = await page3.textContent('#error');
    const focused = await page3.evaluate(() => document.activeElement.id);
    check('a 401 says the key was refused and focuses the key field', msg.includes('401') && msg.includes('API key') && focused === 'apikey', msg);
    await page3.screenshot({ path: path.join(outDir, 'explorer-401.png') });
    await page3.close();
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
    proc.kill('SIGTERM');
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});

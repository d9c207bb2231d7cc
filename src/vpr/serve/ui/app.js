// The vpr web viewer: send a photo to /v1/localize, show its nearest places and where
// they are. No libraries, nothing from the internet.
'use strict';
const $ = (id) => document.getElementById(id);
let places = [];       // [{id, name, position:[x,y], time}]
let useTime = false;   // all positions equal: plot the places by their time instead

async function getJson(url, options) {
  const res = await fetch(url, options);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ? body.error.message : res.status + ' ' + res.statusText);
  return body;
}

async function refreshStatus() {
  const status = $('status');
  try {
    const res = await fetch('/health');
    const h = await res.json();
    if (h.status === 'loading') {
      status.className = 'status loading';
      status.textContent = 'loading the model and database…';
      setTimeout(refreshStatus, 1000);
      return;
    }
    status.className = 'status ok';
    status.textContent = `ready · ${h.database_size} places · ${h.dim}-d · ${h.precision}`;
    status.title = h.model_description || '';
    $('rerank-label').hidden = !h.rerank;
    await loadPlaces(h.database_size);
  } catch (e) {
    status.className = 'status down';
    status.textContent = 'server unreachable';
    setTimeout(refreshStatus, 3000);
  }
}

async function loadPlaces(total) {
  places = [];
  for (let offset = 0; offset < total && offset < 100000; offset += 10000) {
    const page = await getJson(`/v1/places?offset=${offset}&limit=10000`);
    places.push(...page.places);
    if (page.places.length === 0) break;
  }
  const xs = new Set(places.map((p) => p.position.join(',')));
  useTime = xs.size <= 1 && places.length > 1;
  $('map-caption').textContent = useTime
    ? `${places.length} places, in the order they were added (no positions recorded)`
    : `${places.length} places by position`;
  drawMap([]);
}

function coords(p) { return useTime ? [p.time, 0] : p.position; }

function drawMap(matches) {
  const svg = $('map');
  const ns = 'http://www.w3.org/2000/svg';
  svg.textContent = '';
  if (places.length === 0) return;
  const pts = places.map(coords);
  const minX = Math.min(...pts.map((p) => p[0])), maxX = Math.max(...pts.map((p) => p[0]));
  const minY = Math.min(...pts.map((p) => p[1])), maxY = Math.max(...pts.map((p) => p[1]));
  // Places along one axis (their time) need a strip, not a map.
  const w = 1000, h = useTime ? 100 : 300, pad = 20;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.style.height = `${h}px`;
  const sx = (maxX - minX) || 1, sy = (maxY - minY) || 1;
  const s = useTime ? null : Math.min((w - 2 * pad) / sx, (h - 2 * pad) / sy);
  const map = (p) => useTime
    ? [pad + (p[0] - minX) / sx * (w - 2 * pad), h / 2]
    : [pad + (p[0] - minX) * s, h - pad - (p[1] - minY) * s];
  const dot = (p, r, cls, title) => {
    const c = document.createElementNS(ns, 'circle');
    const [x, y] = map(p);
    c.setAttribute('cx', x); c.setAttribute('cy', y); c.setAttribute('r', r); c.setAttribute('class', cls);
    if (title) { const t = document.createElementNS(ns, 'title'); t.textContent = title; c.appendChild(t); }
    svg.appendChild(c);
  };
  for (const p of places) dot(coords(p), 3, 'place', p.name);
  const byId = new Map(places.map((p) => [p.id, p]));
  matches.slice().reverse().forEach((m, i) => {
    const p = byId.get(m.id);
    if (p) dot(coords(p), 7, 'match', `#${matches.length - i} ${p.name}`);
  });
  if (matches.length && byId.get(matches[0].id)) dot(coords(byId.get(matches[0].id)), 13, 'estimate', 'estimate');
}

function showError(message) {
  $('error').hidden = false;
  $('error').textContent = message;
}

async function localize(file) {
  $('error').hidden = true;
  $('query-image').src = URL.createObjectURL(file);
  const params = new URLSearchParams({ k: $('k').value });
  if ($('rerank').checked) params.set('rerank', Math.max(10, Number($('k').value)));
  const form = new FormData();
  form.append('image', file, file.name);
  let result;
  try {
    result = await getJson('/v1/localize?' + params, { method: 'POST', body: form });
  } catch (e) {
    $('result').hidden = true;
    showError('Could not localise the photo: ' + e.message);
    return;
  }
  const list = $('matches');
  list.textContent = '';
  result.matches.forEach((m, i) => {
    const li = document.createElement('li');
    if (i === 0) li.className = 'best';
    const img = document.createElement('img');
    img.src = `/v1/places/${m.id}/image?size=256`;
    img.alt = m.name;
    img.onerror = () => { img.alt = 'no image'; };
    const meta = document.createElement('div');
    meta.className = 'meta';
    const name = document.createElement('div');
    name.className = 'name';
    const rank = document.createElement('span');
    rank.className = 'rank';
    rank.textContent = `#${i + 1}`;
    name.append(rank, m.name);
    const dist = document.createElement('div');
    dist.textContent = `distance ${m.distance.toFixed(3)}`;
    meta.append(name, dist);
    if (m.inliers !== undefined) {
      const v = document.createElement('div');
      v.className = m.verified ? 'verified' : 'hint';
      v.textContent = `${m.inliers} inliers${m.verified ? ' ✓ verified' : ''}`;
      meta.append(v);
    }
    li.append(img, meta);
    list.appendChild(li);
  });
  const ms = result.ms;
  $('timing').textContent = `decode ${ms.decode.toFixed(0)} ms · describe ${ms.describe.toFixed(0)} ms · ` +
    `search ${ms.query.toFixed(1)} ms · total ${ms.total.toFixed(0)} ms`;
  $('result').hidden = false;
  drawMap(result.matches);
}

function setUp() {
  const drop = $('drop');
  $('file').addEventListener('change', (e) => { if (e.target.files[0]) localize(e.target.files[0]); });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) localize(e.dataTransfer.files[0]);
  });
  refreshStatus();
}
setUp();

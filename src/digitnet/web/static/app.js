// The drawing page: records strokes as point lists, asks /api/predict (debounced while drawing, and on
// release) and draws the answer, the input the network receives, the saliency and the hidden layer.
"use strict";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const SIZE = pad.width;            // strokes are sent in the pad's own 280 x 280 coordinates
const LINE = SIZE / 16;            // shown; the server draws the strokes again with a pen that scales with the drawing
const DEBOUNCE_MS = 120;

let strokes = [];                  // [[ [x, y], ... ], ...]
let current = null;
let models = [];
let model = null;                  // the id asked
let timer = null;
let asked = 0;                     // sequence number: answers to older questions are dropped

function point(event) {
  const r = pad.getBoundingClientRect();
  return [Math.round((event.clientX - r.left) * SIZE / r.width * 10) / 10,
          Math.round((event.clientY - r.top) * SIZE / r.height * 10) / 10];
}

function redraw() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, SIZE, SIZE);
  ctx.strokeStyle = ctx.fillStyle = "#111";
  ctx.lineWidth = LINE;
  ctx.lineCap = ctx.lineJoin = "round";
  for (const s of strokes) {
    ctx.beginPath();
    ctx.moveTo(s[0][0], s[0][1]);
    if (s.length === 1) ctx.lineTo(s[0][0] + 0.01, s[0][1]);
    for (const [x, y] of s.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
}

pad.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  current = [point(e)];
  strokes.push(current);
  redraw();
  schedule();
});
pad.addEventListener("pointermove", (e) => {
  if (!current) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of events.length ? events : [e]) current.push(point(ev));
  redraw();
  schedule();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!current) return;
    current = null;
    predictNow();
  });
}
pad.addEventListener("touchmove", (e) => e.preventDefault(), { passive: false });  // no scrolling while drawing

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(predictNow, DEBOUNCE_MS);
}

function clearPad() {
  strokes = [];
  current = null;
  redraw();
  showEmpty();
}

$("clear").addEventListener("click", clearPad);
$("undo").addEventListener("click", () => { strokes.pop(); redraw(); predictNow(); });
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") clearPad();
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); $("undo").click(); }
});

const UPLOAD_SIDE = 1024;           // longer side of a picture as uploaded: what the server decodes it to anyway
const UPLOAD_BYTES = 1 << 20;      // pictures over a megabyte (a phone's photo) are shrunk before uploading

$("upload").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  strokes = [];
  const image = new Image();
  const loaded = new Promise((resolve, reject) => { image.onload = resolve; image.onerror = reject; });
  image.src = URL.createObjectURL(file);
  let upload = file;
  try {
    await loaded;
    redraw();
    const k = Math.min(SIZE / image.width, SIZE / image.height);
    ctx.drawImage(image, (SIZE - image.width * k) / 2, (SIZE - image.height * k) / 2, image.width * k, image.height * k);
    upload = await shrunk(image, file);
  } catch (error) {
    // a picture the browser cannot show: the server says what is wrong with it
  } finally {
    URL.revokeObjectURL(image.src);
  }
  const form = new FormData();
  form.append("file", upload, upload.name || file.name);
  await ask(`/api/predict-image?explain=true&model=${encodeURIComponent(model)}`, { method: "POST", body: form });
  e.target.value = "";
});

// The picture as uploaded: as it is when small, else redrawn at most UPLOAD_SIDE pixels on a side (drawn as the
// browser shows it: EXIF orientation applied), PNG when it may be transparent, JPEG for photos.
async function shrunk(image, file) {
  const side = Math.max(image.naturalWidth, image.naturalHeight);
  if (file.size <= UPLOAD_BYTES && side <= UPLOAD_SIDE) return file;
  const k = Math.min(1, UPLOAD_SIDE / side);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(image.naturalWidth * k));
  canvas.height = Math.max(1, Math.round(image.naturalHeight * k));
  canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
  const png = file.type === "image/png";
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, png ? "image/png" : "image/jpeg", 0.92));
  return blob ? new File([blob], png ? "picture.png" : "picture.jpg", { type: blob.type }) : file;
}

async function predictNow() {
  clearTimeout(timer);
  if (!strokes.length) { showEmpty(); return; }
  const body = JSON.stringify({ strokes, width: SIZE, height: SIZE, model, explain: true });
  await ask("/api/predict", { method: "POST", headers: { "Content-Type": "application/json" }, body });
}

async function ask(url, options) {
  const mine = ++asked;
  document.body.dataset.asked = String(mine);  // with the answer's data-answered: whether the latest request is answered
  let answer;
  try {
    const response = await fetch(url, options);
    answer = await response.json();
    if (!response.ok) { if (mine === asked) showFailure(answer.detail || `error ${response.status}`); return; }
  } catch (error) {
    if (mine === asked) showFailure("the server cannot be reached");
    return;
  }
  if (mine === asked) {
    show(answer);
    $("answer").dataset.answered = String(mine);
  }
}

function showEmpty() {
  asked++;
  show({ digit: -1, likeliest: null, alternatives: [], probabilities: null, rejected: true, reason: "draw a digit",
         input: null, saliency: null, units: [], hidden: null });
}

// A request that failed has no answer: the previous one goes (it answered another drawing or picture), and the
// page says what went wrong. data-answered is left as it was: the latest request was not answered.
function showFailure(text) {
  show({ digit: "", likeliest: null, alternatives: [], probabilities: null, rejected: true, reason: text,
         input: null, saliency: null, units: [], hidden: null });
  $("answer").replaceChildren("no answer");
}

function show(a) {
  const answer = $("answer");
  const current = models.find((m) => m.id === (a.model || model)) || models[0];
  const labels = current && current.classes ? current.classes : [];
  const also = a.alternatives || [];
  answer.replaceChildren(a.rejected ? "no digit" : String(a.digit));  // the model's class label
  if (!a.rejected && also.length) {  // unsure between digits: say so rather than refuse
    const rest = document.createElement("span");
    rest.className = "also";
    rest.textContent = `, or perhaps ${also.join(" or ")}`;
    answer.append(rest);
  }
  answer.dataset.digit = String(a.digit);
  answer.dataset.alternatives = also.join(",");
  answer.classList.toggle("none", a.rejected);
  $("reason").textContent = a.reason || "";
  drawBars(a.probabilities, a.rejected ? -1 : labels.indexOf(a.digit), labels);
  const shape = current && current.image_shape ? current.image_shape : [1, current ? current.n_inputs : 1];
  const range = current && current.value_range ? current.value_range : [0, 1];
  drawGrid($("input"), a.input, shape, (v) => grey((v - range[0]) / (range[1] - range[0])));
  const top = a.saliency ? Math.max(1e-9, ...a.saliency.flat().map(Math.abs)) : 1;
  drawGrid($("saliency"), a.saliency, shape, (v) => diverging(v / top));
  drawGrid($("hidden"), a.hidden ? chunk(a.hidden, 20) : null, [10, 20], (v) => diverging(v));
  drawUnits(a.units || [], shape);
}

function drawBars(p, chosen, labels) {  // chosen: the column of the answer, -1 for none
  const bars = $("bars");
  bars.replaceChildren();
  const n = p ? p.length : (models[0] ? models[0].n_classes : 10);
  const name = (k) => String(labels && k < labels.length ? labels[k] : k);
  for (let k = 0; k < n; k++) {
    const value = p ? p[k] : 0;
    const label = document.createElement("span");
    label.textContent = name(k);
    const bar = document.createElement("div");
    bar.className = "bar" + (k === chosen ? " chosen" : "");
    const fill = document.createElement("div");
    fill.style.width = `${(100 * value).toFixed(1)}%`;
    bar.append(fill);
    const text = document.createElement("span");
    text.textContent = `${(100 * value).toFixed(0)}%`;
    bars.append(label, bar, text);
  }
  bars.setAttribute("aria-label", p ? "Probabilities: " + p.map((v, k) => `${name(k)}: ${(100 * v).toFixed(0)}%`).join(", ")
                                    : "No probabilities: no digit");
}

function chunk(values, width) {
  const rows = [];
  for (let i = 0; i < values.length; i += width) rows.push(values.slice(i, i + width));
  while (rows.length && rows[rows.length - 1].length < width) rows[rows.length - 1].push(0);
  return rows;
}

function drawGrid(canvas, grid, shape, colour) {
  const g = canvas.getContext("2d");
  const [rows, cols] = grid ? [grid.length, grid[0].length] : shape;
  const small = new OffscreenCanvas(cols, rows);
  const s = small.getContext("2d");
  const image = s.createImageData(cols, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [R, G, B] = grid ? colour(grid[r][c]) : [255, 255, 255];
      const i = 4 * (r * cols + c);
      image.data[i] = R; image.data[i + 1] = G; image.data[i + 2] = B; image.data[i + 3] = 255;
    }
  }
  s.putImageData(image, 0, 0);
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function grey(t) {
  const v = Math.round(255 * (1 - Math.min(1, Math.max(0, t))));
  return [v, v, v];
}

function diverging(t) {  // -1 blue, 0 white, +1 orange (colour-blind safe)
  const u = Math.min(1, Math.abs(t));
  const [R, G, B] = t >= 0 ? [213, 94, 0] : [0, 114, 178];
  return [255 + (R - 255) * u, 255 + (G - 255) * u, 255 + (B - 255) * u].map(Math.round);
}

function drawUnits(units, shape) {
  const box = $("units");
  box.replaceChildren();
  for (const u of units) {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 64;
    canvas.className = "grid";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Receptive field of hidden unit ${u.unit}`);
    const top = Math.max(1e-9, ...u.weights.flat().map(Math.abs));
    drawGrid(canvas, u.weights, shape, (v) => diverging(v / top));
    const caption = document.createElement("figcaption");
    caption.textContent = `#${u.unit} ${u.contribution >= 0 ? "+" : ""}${u.contribution.toFixed(2)}`;
    figure.append(canvas, caption);
    box.append(figure);
  }
}

async function loadModels() {
  const response = await fetch("/api/models");
  const data = await response.json();
  models = data.models;
  const wanted = model || new URLSearchParams(location.search).get("model");  // the Train view's "Use" names one
  model = models.some((m) => m.id === wanted) ? wanted : data.default;
  const select = $("model-select");
  select.replaceChildren();
  for (const m of models) {
    const option = document.createElement("option");
    option.value = m.id;
    option.textContent = m.id;
    select.append(option);
  }
  select.value = model;
  $("model-switch").hidden = models.length < 2;
  describe();
}

$("model-select").addEventListener("change", () => { model = $("model-select").value; describe(); predictNow(); });
// models trained on the Train view join the list: look again when the page is shown again
document.addEventListener("visibilitychange", () => { if (!document.hidden) loadModels(); });
fetch("/api/train").then((r) => r.json()).then((t) => { $("train-link").hidden = !t.enabled; });

function describe() {
  const m = models.find((x) => x.id === model);
  const size = m.image_shape ? `${m.image_shape[0]}x${m.image_shape[1]}` : `${m.n_inputs} inputs`;
  const accuracy = m.test_accuracy != null ? `, ${(100 * m.test_accuracy).toFixed(2)}% on ${m.n_test} test digits` : "";
  $("model-line").textContent = `Model ${m.id}: recipe ${m.recipe}, ${size} → ${m.n_hidden} tanh → ${m.n_classes}${accuracy}`;
}

redraw();
loadModels().then(showEmpty);

// The Train view: a form that starts a run (POST /api/train), buttons that pause, step, resume and stop it, and
// the run drawn as its events arrive (EventSource on /api/train/events: the run so far, then live; after a lost
// connection the browser resumes from the last event it saw).
"use strict";

const $ = (id) => document.getElementById(id);
const TILE_COLUMNS = 20;            // as the report's figure (plots.hidden_weights)
const OVERFLOW = { float64: 709.78, float32: 88.72 };  // exp(z) overflows past these
const COLOURS = { train: "#0072b2", test: "#d55e00", line: "#999" };

let options = null;                 // GET /api/train
let colormap = null;                // Uint8Array of 256 RGB triples
let run = null;                     // the run watched (see reset)
let source = null;                  // the EventSource

function reset(start) {
  run = {
    start, id: start.run, state: "starting", config: start.config,
    train: [], test: [], logits: [], lr: [],   // [epoch, value] points
    tiles: new Map(),                           // epoch -> tiles kept in events; "live" -> the latest
    last: null, end: null, rows: [],
  };
  $("numbers").tBodies[0].replaceChildren();
  $("mistakes").replaceChildren();
  $("confusion").replaceChildren();
  $("result").hidden = true;
  $("logits-box").hidden = start.config.gradient !== "blog";
  $("shown").max = 0;
  $("shown").value = 0;
}

// ---- the form

async function load() {
  const response = await fetch("/api/train");
  options = await response.json();
  if (!options.enabled) {
    $("status").textContent = options.reason;
    for (const el of $("settings").elements) el.disabled = true;
    return;
  }
  colormap = bytes(options.colormap);
  for (const d of options.data) $("data").append(new Option(d.name, d.name));
  $("recipe").append(new Option(`${options.auto}: chosen from the data`, options.auto));  // the default, as the CLI's
  for (const name of Object.keys(options.recipes)) $("recipe").append(new Option(name, name));
  for (const s of options.settings) $("fields").append(field(s));
  describeData();
  fillRecipe();
  $("data").addEventListener("change", () => { describeData(); if ($("recipe").value === options.auto) fillRecipe(); });
  $("recipe").addEventListener("change", fillRecipe);
  $("status").textContent = "No run yet: choose the settings and start one.";
  listen();
}

function field(s) {
  const box = document.createElement("div");
  box.className = "field";
  const label = document.createElement("label");
  label.htmlFor = `f-${s.name}`;
  label.textContent = s.label;
  const input = document.createElement("input");
  Object.assign(input, { id: `f-${s.name}`, name: s.name, type: "number", required: true,
                         step: s.integer ? "1" : "any", min: String(s.min) });
  if (s.max != null) input.max = String(s.max);
  input.setAttribute("aria-describedby", `h-${s.name}`);
  const hint = document.createElement("small");
  hint.id = `h-${s.name}`;
  hint.append(s.explanation + " ", Object.assign(document.createElement("span"), { className: "default" }));
  box.append(label, input, hint);
  return box;
}

// the recipe a run will use: the one chosen, or for auto the one digitnet train picks for the data chosen
function chosenRecipe() {
  const name = $("recipe").value;
  return name === options.auto ? options.data.find((x) => x.name === $("data").value).recipe : name;
}

function fillRecipe() {
  const recipe = chosenRecipe();
  const defaults = options.recipes[recipe];
  const which = $("recipe").value === options.auto ? `${options.auto} (${recipe} for these data)` : recipe;
  $("recipe-hint").textContent = $("recipe").value === options.auto
    ? `For these data auto chooses ${recipe}, as digitnet train does; choosing a recipe fills in its settings.`
    : "Choosing one fills in its settings.";
  for (const s of options.settings) {
    $(`f-${s.name}`).value = defaults[s.name];
    $(`h-${s.name}`).querySelector(".default").textContent = `Default for ${which}: ${defaults[s.name]}.`;
  }
}

function describeData() {
  const d = options.data.find((x) => x.name === $("data").value);
  $("data-hint").textContent = `${d.n_samples.toLocaleString()} samples of ${d.inputs}, ${d.n_classes} classes.`;
}

$("settings").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { data: $("data").value, recipe: $("recipe").value, paused: $("paused").checked };
  for (const s of options.settings) {
    const text = $(`f-${s.name}`).value;
    body[s.name] = text === "" ? null : Number(text);
  }
  $("error").textContent = "";
  await post("/api/train", body);
});

for (const action of ["pause", "step", "resume", "stop"]) {
  $(action).addEventListener("click", () => run && post(`/api/train/runs/${run.id}/${action}`));
}

$("use").addEventListener("click", async () => {
  const answer = await post(`/api/train/runs/${run.id}/use`);
  if (!answer) return;
  source.close();
  location.href = `/?model=${encodeURIComponent(answer.model)}`;
});

async function post(url, body) {
  try {
    const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
                                        body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await response.json();
    if (response.ok) return answer;
    $("error").textContent = typeof answer.detail === "string" ? answer.detail : `error ${response.status}`;
  } catch (error) {
    $("error").textContent = "the server cannot be reached";
  }
  return null;
}

// ---- the stream

function listen() {
  source = new EventSource("/api/train/events");
  addEventListener("pagehide", () => source.close());  // leaving: the run goes on without this page
  const on = (kind, handle) => source.addEventListener(kind, (e) => handle(JSON.parse(e.data)));
  on("start", (d) => { reset(d); show(); });
  on("ready", (d) => { measured(d); run.state = "running"; show(); });
  on("progress", (d) => { measured(d); show(); });
  on("epoch", (d) => { trained(d); measured(d); show(); });
  on("paused", (d) => { run.state = "paused"; run.last = { ...run.last, ...d }; show(); });
  on("resumed", (d) => { run.state = "running"; run.last = { ...run.last, ...d }; show(); });
  on("end", (d) => { run.state = "ended"; run.end = d; show(); });
}

function trained(d) {
  run.train.push([d.epoch, d.loss, d.accuracy]);
  run.lr.push([d.epoch, d.lr]);
  run.rows.push(d);
}

function measured(d) {
  run.last = { ...run.last, ...d };
  if (d.tiles) {
    run.tiles.set("live", d.tiles);
    if (Number.isInteger(d.epoch)) run.tiles.set(d.epoch, d.tiles);
  }
  if (d.test_accuracy === undefined) return;
  run.test.push([d.epoch, d.test_loss, d.test_accuracy]);
  run.logits.push([d.epoch, d.z_max]);
  run.confusion = { labels: d.labels, counts: d.confusion };
  run.mistakes = d.mistakes;
}

// ---- drawing, at most once a frame however fast events come (a late joiner gets a whole run at once)

let drawPending = false;

function show() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; draw(); });
}

function draw() {
  if (!run) return;
  buttons();
  status();
  curves();
  numbers();
  const epochs = [...run.tiles.keys()].filter((k) => k !== "live");
  const slider = $("shown");
  const atEnd = Number(slider.value) >= Number(slider.max);
  slider.max = String(epochs.length ? Math.max(...epochs) : 0);
  if (atEnd) slider.value = slider.max;
  drawTiles();
  confusion();
  mistakes();
}

function buttons() {
  const s = run.state;
  $("start").disabled = s !== "ended";
  $("pause").disabled = !(s === "running" || s === "starting");
  $("step").disabled = $("resume").disabled = s !== "paused";
  $("stop").disabled = s === "ended";
  const end = run.end;
  $("result").hidden = !end;
  if (!end) return;
  $("use").disabled = !end.model;
  $("download").hidden = !end.model;
  $("download").href = `/api/train/runs/${run.id}/model`;
  $("result-line").textContent = end.model
    ? `Model ${end.model}: test accuracy ${percent(end.test.accuracy)} on ${end.test.n_test} digits.`
    : end.stop_reason === "diverged" ? "No model: training diverged." : `No model: ${end.why.replace(/\.?$/, ".")}`;
}

function status() {
  const c = run.config, last = run.last || {};
  const who = run.start.started_by ? ` by ${run.start.started_by}` : "";
  const when = new Date(run.start.started_at * 1000).toLocaleTimeString();
  const auto = run.start.recipe_chosen_by === "auto" ? " (auto's choice)" : "";
  const what = `${c.recipe}${auto} on ${run.start.data} (started${who} at ${when})`;
  const epoch = `epoch ${fixed(last.epoch || 0, 1)} of ${c.epochs}`;
  let text;
  if (run.state === "ended") {
    text = `${what}: ended after ${run.end.epochs} epoch${run.end.epochs === 1 ? "" : "s"}: ${run.end.why}`;
  } else if (run.state === "paused") {
    text = `${what}: paused at ${epoch}. Next epoch, Resume or Stop.`;
  } else if (!run.last) {
    text = `${what}: starting a worker process…`;
  } else {
    const rate = last.steps_per_second ? `, ${Math.round(last.steps_per_second).toLocaleString()} steps/s` : "";
    const left = last.seconds_left != null ? `, about ${duration(last.seconds_left)} left` : "";
    text = `${what}: ${epoch}${rate}${left}.`;
  }
  $("status").textContent = text;
  $("status").classList.toggle("bad", run.state === "ended" && run.end.stop_reason === "diverged");
}

function curves() {
  const diverged = run.end && run.end.stop_reason === "diverged" ? run.end.epochs : null;
  chart($("loss"), "loss", [{ name: "training", colour: COLOURS.train, points: run.train.map(([e, l]) => [e, l]) },
                            { name: "test", colour: COLOURS.test, points: run.test.map(([e, l]) => [e, l]) }], { diverged });
  chart($("accuracy"), "accuracy", [{ name: "training", colour: COLOURS.train, points: run.train.map(([e, , a]) => [e, a]) },
                                    { name: "test", colour: COLOURS.test, points: run.test.map(([e, , a]) => [e, a]) }],
        { diverged, low: 0, high: 1, percent: true });
  if (!$("logits-box").hidden) {
    chart($("logits"), "largest |z|", [{ name: "test digits", colour: COLOURS.test, points: run.logits }],
          { diverged, low: 0, line: OVERFLOW[run.config.dtype] });
  }
  const lr = run.lr.length ? run.lr[run.lr.length - 1][1] : run.config.lr;
  $("lr-line").textContent = `Learning rate ${lr.toPrecision(3)} (${run.config.schedule}` +
    (run.config.schedule === "cosine" ? ` from ${run.config.lr} to 0 over ${run.config.epochs} epochs)` : ")");
  const test = run.test.length ? run.test[run.test.length - 1] : null;
  $("accuracy").setAttribute("aria-label", test ? `Accuracy per epoch; test accuracy now ${percent(test[2])}` : "Accuracy per epoch");
  $("loss").setAttribute("aria-label", test ? `Loss per epoch; test loss now ${fixed(test[1], 3)}` : "Loss per epoch");
}

function chart(canvas, title, series, { low, high, percent: isPercent, diverged, line } = {}) {
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 44, right = 8, top = 18, bottom = 24;
  g.clearRect(0, 0, W, H);
  const finite = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v != null && isFinite(v));
  const xMax = Math.max(1, run.config.epochs, ...series.flatMap((s) => s.points.map((p) => p[0])));
  let yLow = low ?? Math.min(0, ...finite), yHigh = high ?? Math.max(...finite, line || 0, 1e-9);
  if (yHigh <= yLow) yHigh = yLow + 1;
  const x = (e) => left + (W - left - right) * e / xMax;
  const y = (v) => top + (H - top - bottom) * (1 - (v - yLow) / (yHigh - yLow));
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#444";
  g.strokeStyle = "#ccc";
  g.beginPath(); g.moveTo(left, top); g.lineTo(left, H - bottom); g.lineTo(W - right, H - bottom); g.stroke();
  g.textAlign = "right";
  for (const v of [yLow, (yLow + yHigh) / 2, yHigh]) g.fillText(isPercent ? percent(v, 0) : v.toPrecision(3), left - 4, y(v) + 4);
  g.textAlign = "center";
  g.fillText(`epoch (of ${run.config.epochs})`, (left + W) / 2, H - 6);
  g.textAlign = "left";
  g.fillText(title, left + 4, 12);
  if (line) dashed(g, left, y(line), W - right, y(line), COLOURS.line);
  series.forEach((s, i) => {
    g.strokeStyle = g.fillStyle = s.colour;
    g.lineWidth = 2;
    g.beginPath();
    let drawing = false;
    for (const [e, v] of s.points) {
      if (v == null || !isFinite(v)) { drawing = false; continue; }
      if (drawing) g.lineTo(x(e), y(v)); else g.moveTo(x(e), y(v));
      drawing = true;
    }
    g.stroke();
    g.fillText(s.name, W - right - 90, 12 + 13 * i);
  });
  if (diverged) {
    dashed(g, x(diverged), top, x(diverged), H - bottom, "#d55e00");
    g.fillStyle = "#d55e00";
    g.textAlign = "right";
    g.fillText(`NaN at epoch ${diverged}`, x(diverged) - 3, top + 12);
  }
}

function dashed(g, x0, y0, x1, y1, colour) {
  g.save();
  g.setLineDash([4, 3]);
  g.strokeStyle = colour;
  g.lineWidth = 1;
  g.beginPath(); g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke();
  g.restore();
}

function numbers() {
  const body = $("numbers").tBodies[0];
  const tests = new Map(run.test.map(([e, l, a]) => [e, [l, a]]));
  while (body.rows.length < run.rows.length) {
    const d = run.rows[body.rows.length];
    const [testLoss, testAccuracy] = tests.get(d.epoch) || [null, null];
    const row = body.insertRow();
    for (const text of [d.epoch, fixed(d.loss, 4), percent(d.accuracy), fixed(testLoss, 4), percent(testAccuracy), d.lr.toPrecision(3)]) {
      row.insertCell().textContent = text;
    }
  }
}

function drawTiles() {
  const slider = $("shown");
  const latest = Number(slider.value) >= Number(slider.max);
  let tiles = latest ? run.tiles.get("live") : null;
  for (let e = Number(slider.value); !tiles && e >= 0; e--) tiles = run.tiles.get(e);  // thinned: the nearest earlier
  $("shown-label").textContent = latest ? "latest" : `epoch ${slider.value}`;
  if (!tiles) return;
  const [h, w] = tiles.shape, rows = Math.ceil(tiles.count / TILE_COLUMNS);
  const canvas = $("tiles");
  canvas.width = TILE_COLUMNS * (w + 1) - 1;
  canvas.height = rows * (h + 1) - 1;
  const g = canvas.getContext("2d");
  const image = g.createImageData(canvas.width, canvas.height);
  image.data.fill(255);
  const levels = tiles.decoded || (tiles.decoded = bytes(tiles.levels));
  for (let t = 0; t < tiles.count; t++) {
    const top = Math.floor(t / TILE_COLUMNS) * (h + 1), left = (t % TILE_COLUMNS) * (w + 1);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const k = 3 * levels[t * h * w + r * w + c], i = 4 * ((top + r) * canvas.width + left + c);
        image.data[i] = colormap[k]; image.data[i + 1] = colormap[k + 1]; image.data[i + 2] = colormap[k + 2];
      }
    }
  }
  g.putImageData(image, 0, 0);
  $("limit").textContent = `±${tiles.limit.toPrecision(3)}`;
  canvas.setAttribute("aria-label", `The ${tiles.count} hidden neurons' input weights as ${h}x${w} tiles, ` +
                      (latest ? "latest" : `after epoch ${slider.value}`));
}

$("shown").addEventListener("input", drawTiles);

function confusion() {
  if (!run.confusion) return;
  const { labels, counts } = run.confusion;
  const table = $("confusion");
  const head = document.createElement("tr");
  head.append(cell("th", "true \\ said"), ...labels.map((l) => Object.assign(cell("th", String(l)), { scope: "col" })));
  const rows = counts.slice(1).map((row, i) => {   // row -1 is always empty: no true label is -1
    const tr = document.createElement("tr");
    const total = row.reduce((a, b) => a + b, 0) || 1;
    tr.append(Object.assign(cell("th", String(labels[i + 1])), { scope: "row" }));
    row.forEach((n, j) => {
      const td = cell("td", n ? String(n) : "");
      const share = n / total;
      td.style.background = n ? `rgba(${j === i + 1 ? "0,114,178" : "213,94,0"},${(0.15 + 0.85 * share).toFixed(2)})` : "";
      if (share > 0.55) td.style.color = "#fff";
      tr.append(td);
    });
    return tr;
  });
  table.replaceChildren(head, ...rows);
}

function cell(tag, text) {
  const c = document.createElement(tag);
  c.textContent = text;
  return c;
}

function mistakes() {
  const box = $("mistakes");
  const list = run.mistakes || [];
  const shape = run.start.image_shape;
  box.replaceChildren(...list.map((m) => {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = `true ${m.true}, said ${m.said}, ${percent(m.confidence, 0)} sure`;
    if (shape) {
      const canvas = document.createElement("canvas");
      [canvas.height, canvas.width] = shape;
      canvas.className = "grid";
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `A ${m.true} the network read as ${m.said}`);
      const g = canvas.getContext("2d"), image = g.createImageData(shape[1], shape[0]), ink = bytes(m.pixels);
      ink.forEach((v, i) => { image.data.fill(255 - v, 4 * i, 4 * i + 3); image.data[4 * i + 3] = 255; });
      g.putImageData(image, 0, 0);
      figure.append(canvas);
    }
    figure.append(caption);
    return figure;
  }));
  if (run.last && run.last.test_accuracy !== undefined && !list.length) box.textContent = "No mistakes on the test digits.";
}

// ---- small helpers

function bytes(base64) {
  return Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
}

function percent(v, digits = 1) {
  return v == null ? "–" : `${(100 * v).toFixed(digits)}%`;
}

function fixed(v, digits) {
  return v == null ? "NaN" : Number(v).toFixed(digits);
}

function duration(seconds) {
  return seconds < 90 ? `${Math.ceil(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

load();

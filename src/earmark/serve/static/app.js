// earmark's page: pick a model, drop or record audio, see the answer over time, play events.
// Talks only to this server (the page's Content-Security-Policy allows nothing else).
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#f59e0b", "#22d3ee", "#a3e635", "#f472b6", "#c084fc", "#fb7185", "#34d399",
                "#facc15"];
const state = { models: [], result: null, audio: null, ctx: null, source: null };

function token() { return sessionStorage.getItem("earmark-token") || ""; }
function authHeaders() { const t = token(); return t ? { Authorization: "Bearer " + t } : {}; }

function setStatus(text, error) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!error);
}

async function api(path, options) {
  const response = await fetch(path, { ...(options || {}),
    headers: { ...authHeaders(), ...((options && options.headers) || {}) } });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (response.status === 401) $("token-box").hidden = false;
  if (!response.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail
      : JSON.stringify(body.detail)) : response.statusText;
    const err = new Error(detail);
    err.status = response.status;
    throw err;
  }
  return body;
}

async function loadModels() {
  try {
    const body = await api("/v1/models");
    state.models = body.models;
    state.limits = body.limits;
    const select = $("model");
    select.innerHTML = "";
    for (const m of body.models) {
      const o = document.createElement("option");
      o.value = m.name;
      o.textContent = `${m.name} (${m.task})`;
      select.appendChild(o);
    }
    showModelInfo();
    setStatus(`Ready: ${body.models.length} model(s). Uploads up to ` +
              `${body.limits.max_upload_mb} MB, ${body.limits.max_duration_s} s.`);
  } catch (e) {
    setStatus(e.status === 401 ? "This service needs a token: enter it above." :
              "Cannot list the models: " + e.message, true);
  }
}

function currentModel() { return state.models.find((m) => m.name === $("model").value); }

function showModelInfo() {
  const m = currentModel();
  if (!m) return;
  const licence = m.licence ? `, licence: ${m.licence}` : "";
  $("model-info").textContent = `${m.classes.length} classes, ${m.sample_rate} Hz, ` +
    `window ${m.window_s} s${licence}`;
}

// ---- sending audio -----------------------------------------------------------------------
async function predictFile(file) {
  const m = currentModel();
  if (!m) { setStatus("No model selected.", true); return; }
  setStatus(`Scoring ${file.name} with ${m.name}…`);
  const bytes = await file.arrayBuffer();
  const form = new FormData();
  form.append("file", new Blob([bytes], { type: file.type || "application/octet-stream" }),
              file.name);
  const decoded = decode(bytes.slice(0));
  try {
    const result = await api(`/v1/models/${encodeURIComponent(m.name)}/predict` +
                             "?windows=true&spectrogram=true", { method: "POST", body: form });
    show(result, await decoded);
    setStatus(`Scored ${file.name}.`);
  } catch (e) {
    setStatus(`${e.status || ""} ${e.message}`.trim(), true);
  }
}

async function predictSamples(buffer, name) {
  const m = currentModel();
  const mono = mix(buffer);
  const pcm = new Int16Array(mono.length);
  for (let i = 0; i < mono.length; i++) {
    pcm[i] = Math.max(-32768, Math.min(32767, Math.round(mono[i] * 32767)));
  }
  setStatus(`Scoring the recording with ${m.name}…`);
  try {
    const result = await api(`/v1/models/${encodeURIComponent(m.name)}/predict?windows=true` +
                             `&spectrogram=true&rate=${buffer.sampleRate}`,
                             { method: "POST", body: pcm.buffer,
                               headers: { "Content-Type": "application/octet-stream" } });
    result.file = name;
    show(result, buffer);
    setStatus("Scored the recording.");
  } catch (e) {
    setStatus(`${e.status || ""} ${e.message}`.trim(), true);
  }
}

function audioContext() {
  if (!state.ctx) state.ctx = new (window.AudioContext || window.webkitAudioContext)();
  return state.ctx;
}

async function decode(bytes) {
  try { return await audioContext().decodeAudioData(bytes); } catch (e) { return null; }
}

function mix(buffer) {
  const out = new Float32Array(buffer.length);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const d = buffer.getChannelData(c);
    for (let i = 0; i < d.length; i++) out[i] += d[i] / buffer.numberOfChannels;
  }
  return out;
}

// ---- recording ---------------------------------------------------------------------------
let recorder = null;
async function toggleRecording() {
  const button = $("record");
  if (recorder) { recorder.stop(); return; }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    setStatus("Recording is not available here (the page needs localhost or HTTPS and a " +
              "browser with MediaRecorder).", true);
    return;
  }
  let stream;
  try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch (e) {
    setStatus("The microphone was not allowed: " + e.message, true);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    recorder = null;
    button.textContent = "record";
    button.classList.remove("recording");
    const blob = new Blob(chunks, { type: chunks.length ? chunks[0].type : "audio/webm" });
    const buffer = await decode(await blob.arrayBuffer());
    if (!buffer) { setStatus("The recording could not be decoded.", true); return; }
    predictSamples(buffer, "recording");
  };
  recorder.start();
  button.textContent = "stop";
  button.classList.add("recording");
  setStatus("Recording… press stop to score it.");
}

// ---- showing the answer ------------------------------------------------------------------
function fmt(x, digits) { return Number(x).toFixed(digits === undefined ? 3 : digits); }

function show(result, audio) {
  state.result = result;
  state.audio = audio;
  $("result").hidden = false;
  $("file-name").textContent = result.file;
  $("file-meta").textContent = `${fmt(result.duration_s, 2)} s, ${result.sample_rate} Hz, ` +
    `${result.channels} ch — ${result.model} (${result.task})`;
  $("play-all").disabled = !audio;
  showAnswer(result);
  showScores(result);
  showEvents(result);
  draw(result, audio);
}

function showAnswer(r) {
  const a = $("answer");
  a.innerHTML = "";
  let text;
  if (r.task === "classification") text = r.label;
  else if (r.task === "tagging") text = r.labels.length ? r.labels.join(", ") : "(no tag)";
  else if (r.task === "detection") text = `${r.events.length} event(s)`;
  else text = r.anomalous ? "anomalous" : "normal";
  const span = document.createElement("span");
  span.textContent = text;
  if (r.task === "novelty") span.className = r.anomalous ? "flag" : "ok";
  a.appendChild(span);
  a.dataset.answer = r.task === "tagging" ? r.labels.join(";") :
    r.task === "classification" ? r.label : r.task === "novelty" ? String(r.anomalous) :
    String(r.events.length);
}

function scoreRows(r) {
  if (r.task === "classification" || r.task === "tagging") {
    return Object.entries(r.scores).sort((a, b) => b[1] - a[1]).map(([label, score]) => ({
      label, score, on: r.task === "tagging" ? r.labels.includes(label) : label === r.label }));
  }
  if (r.task === "novelty") {
    return [{ label: "anomaly score", score: r.score, on: r.anomalous },
            { label: "threshold", score: r.threshold, on: false },
            { label: "tail probability", score: r.tail_probability, on: false }];
  }
  const best = {};      // detection: each class's highest event score
  for (const e of r.events) best[e.label] = Math.max(best[e.label] || 0, e.score);
  return Object.entries(best).sort((a, b) => b[1] - a[1]).map(([label, score]) => ({
    label, score, on: true }));
}

function showScores(r) {
  const body = $("scores").querySelector("tbody");
  body.innerHTML = "";
  $("scores-title").textContent = r.task === "novelty" ? "anomaly" : r.task === "detection" ?
    "classes found (best event score)" : "top labels";
  const rows = scoreRows(r);
  const top = Math.max(1e-9, ...rows.map((x) => Math.abs(x.score)));
  for (const row of rows.slice(0, 10)) {
    const tr = document.createElement("tr");
    tr.className = "score-row" + (row.on ? " on" : "");
    tr.dataset.label = row.label;
    tr.dataset.score = String(row.score);
    const bar = Math.max(0, Math.min(1, row.score / top));
    // styles set through the DOM: the page's CSP allows no inline style attributes
    tr.innerHTML = `<td></td><td class="num">${fmt(row.score)}</td>` +
      `<td class="bar-cell"><div class="bar"></div></td>`;
    tr.firstChild.textContent = row.label;
    tr.querySelector(".bar").style.width = `${(bar * 100).toFixed(1)}%`;
    body.appendChild(tr);
  }
}

function showEvents(r) {
  const events = r.events || [];
  $("events-box").hidden = !(r.task === "detection" || r.task === "novelty");
  const body = $("events").querySelector("tbody");
  body.innerHTML = "";
  $("no-events").hidden = events.length > 0;
  events.forEach((e, i) => {
    const tr = document.createElement("tr");
    tr.className = "event-row";
    Object.assign(tr.dataset, { onset: String(e.onset), offset: String(e.offset),
                                label: e.label, score: String(e.score) });
    tr.innerHTML = `<td class="num">${fmt(e.onset)}</td><td class="num">${fmt(e.offset)}</td>` +
      `<td></td><td class="num">${fmt(e.score)}</td><td><button type="button">play</button></td>`;
    tr.children[2].textContent = e.label;
    const b = tr.querySelector("button");
    b.disabled = !state.audio;
    b.addEventListener("click", () => play(e.onset, e.offset));
    body.appendChild(tr);
  });
}

function play(start, end) {
  if (!state.audio) return;
  const ctx = audioContext();
  if (state.source) { try { state.source.stop(); } catch (e) { /* already stopped */ } }
  const src = ctx.createBufferSource();
  src.buffer = state.audio;
  src.connect(ctx.destination);
  const from = Math.max(0, start || 0);
  const stop = end === undefined ? state.audio.duration : Math.min(end, state.audio.duration);
  src.start(0, from, Math.max(0.01, stop - from));
  state.source = src;
}

// ---- the picture: waveform, spectrogram, scores over time ---------------------------------
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colormap(v) {
  const x = (v / 255) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}

function classColor(name, classes) { return COLORS[classes.indexOf(name) % COLORS.length]; }

function draw(r, audio) {
  const canvas = $("view");
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const wave = [0, 70], spec = [72, 190], plot = [264, 110];
  const dur = Math.max(r.duration_s, 1e-3);
  const x = (t) => (t / dur) * W;
  g.fillStyle = "#0b1020";
  g.fillRect(0, 0, W, H);
  // waveform (decoded in the browser)
  g.strokeStyle = "#93c5fd";
  g.beginPath();
  if (audio) {
    const y = mix(audio);
    const per = Math.max(1, Math.floor(y.length / W));
    for (let px = 0; px < W; px++) {
      let lo = 0, hi = 0;
      for (let i = px * per; i < Math.min(y.length, (px + 1) * per); i++) {
        lo = Math.min(lo, y[i]); hi = Math.max(hi, y[i]);
      }
      const mid = wave[0] + wave[1] / 2;
      g.moveTo(px + 0.5, mid - hi * wave[1] / 2);
      g.lineTo(px + 0.5, mid - lo * wave[1] / 2 + 0.5);
    }
  }
  g.stroke();
  // spectrogram (from the server: what the model's front end sees, in dB)
  const s = r.spectrogram;
  if (s) {
    const raw = atob(s.data);
    const img = g.createImageData(s.n_frames, s.n_mels);
    for (let band = 0; band < s.n_mels; band++) {
      for (let t = 0; t < s.n_frames; t++) {
        const v = raw.charCodeAt(band * s.n_frames + t);
        const [cr, cg, cb] = colormap(v);
        const o = ((s.n_mels - 1 - band) * s.n_frames + t) * 4;   // low bands at the bottom
        img.data[o] = cr; img.data[o + 1] = cg; img.data[o + 2] = cb; img.data[o + 3] = 255;
      }
    }
    const off = document.createElement("canvas");
    off.width = s.n_frames; off.height = s.n_mels;
    off.getContext("2d").putImageData(img, 0, 0);
    g.imageSmoothingEnabled = false;
    g.drawImage(off, 0, spec[0], Math.min(W, x(s.n_frames * s.frame_step_s)), spec[1]);
  }
  // scores over time
  g.fillStyle = "#111827";
  g.fillRect(0, plot[0], W, plot[1]);
  const yOf = (v) => plot[0] + plot[1] - Math.max(0, Math.min(1, v)) * (plot[1] - 4) - 2;
  const legend = [];
  const m = state.models.find((mm) => mm.name === r.model) || { classes: [] };
  if (r.windows && (r.task === "classification" || r.task === "tagging")) {
    const ranked = Object.entries(r.scores).sort((a, b) => b[1] - a[1]).slice(0, 5);
    for (const [label] of ranked) {
      const c = classColor(label, m.classes);
      line(g, r.windows.map((w) => [x((w.start_s + w.end_s) / 2), yOf(w.scores[label])]), c);
      legend.push([label, c]);
    }
  } else if (r.frames) {
    const fr = r.frames;
    fr.classes.forEach((label, k) => {
      const c = classColor(label, m.classes);
      line(g, fr.scores.map((row, i) => [x((i + 0.5) * fr.frame_step_s), yOf(row[k])]), c);
      legend.push([label, c]);
    });
  } else if (r.windows && r.task === "novelty") {
    const top = Math.max(r.window_threshold * 1.5, ...r.windows.map((w) => w.score), 1e-9);
    line(g, r.windows.map((w) => [x((w.start_s + w.end_s) / 2), yOf(w.score / top)]),
         "#f59e0b");
    g.setLineDash([4, 4]);
    line(g, [[0, yOf(r.window_threshold / top)], [W, yOf(r.window_threshold / top)]], "#ef4444");
    g.setLineDash([]);
    legend.push(["anomaly score", "#f59e0b"], ["threshold", "#ef4444"]);
  }
  // events: boxes over spectrogram and scores
  for (const e of r.events || []) {
    const c = r.task === "novelty" ? "#ef4444" : classColor(e.label, m.classes);
    g.strokeStyle = c;
    g.lineWidth = 2;
    g.strokeRect(x(e.onset), spec[0] + 1, Math.max(2, x(e.offset) - x(e.onset)), spec[1] - 2);
    g.fillStyle = c;
    g.font = "12px system-ui, sans-serif";
    g.fillText(e.label, x(e.onset) + 3, spec[0] + 14);
    g.lineWidth = 1;
  }
  // time axis
  g.fillStyle = "#cbd5e1";
  g.font = "11px system-ui, sans-serif";
  const step = niceStep(dur / 8);
  for (let t = 0; t <= dur + 1e-9; t += step) {
    g.fillText(`${fmt(t, step < 1 ? 1 : 0)} s`, x(t) + 2, H - 3);
  }
  const lg = $("legend");
  lg.innerHTML = "";
  for (const [label, c] of legend) {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = c;
    span.appendChild(swatch);
    span.appendChild(document.createTextNode(label));
    lg.appendChild(span);
  }
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-3))));
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p;
  return 10 * p;
}

function line(g, points, color) {
  if (!points.length) return;
  g.strokeStyle = color;
  g.lineWidth = 2;
  g.beginPath();
  points.forEach(([px, py], i) => (i ? g.lineTo(px, py) : g.moveTo(px, py)));
  if (points.length === 1) g.lineTo(points[0][0] + 3, points[0][1]);
  g.stroke();
  g.lineWidth = 1;
}

// ---- wiring ------------------------------------------------------------------------------
function setup() {
  $("model").addEventListener("change", showModelInfo);
  $("token").value = token();
  $("token").addEventListener("change", () => {
    sessionStorage.setItem("earmark-token", $("token").value.trim());
    loadModels();
  });
  $("file").addEventListener("change", (e) => {
    if (e.target.files[0]) predictFile(e.target.files[0]);
  });
  $("record").addEventListener("click", toggleRecording);
  $("play-all").addEventListener("click", () => play(0));
  $("view").addEventListener("click", (e) => {
    if (!state.result) return;
    const rect = e.target.getBoundingClientRect();
    play(((e.clientX - rect.left) / rect.width) * state.result.duration_s);
  });
  const drop = $("drop");
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => {
    const f = e.dataTransfer.files[0];
    if (f) predictFile(f);
  });
  loadModels();
}

document.addEventListener("DOMContentLoaded", setup);

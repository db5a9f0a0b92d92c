// The web page: model choice, image in (drop, picker or sample), upload with progress, the answer,
// and the caller's history. State lives in one object; each part of the page has a render function
// that rebuilds it from that state, so a language switch simply re-renders everything.

import * as api from "./api.js";
import {prepareImage} from "./prepare.js";
import {clear, h, show} from "./dom.js";
import {applyStatic, detectLang, errorMessage, lang, pick, setLang, setStaticVars, t} from "./i18n.js";
import {formatTime, isRefused, labelNames, percent, renderResult} from "./result.js";
import {ownerPanel, reviewedTag} from "./review.js";

const CONFIG = window.XIAOFEI_CONFIG || {};
const PAGE_SIZE = CONFIG.historyPageSize || 10;
const $ = (id) => document.getElementById(id);

const state = {
  model: "pneumonia",
  // Shown before GET /models answers (or if it fails): the two models the product ships.
  models: [{name: "pneumonia", labels: []}, {name: "skin", labels: []}],
  samples: [],
  busy: null, // the AbortController of the running prediction
  phase: null, // "uploading" | "analyzing" | "sample"
  progress: 0,
  result: null, // {rec, imageUrl, fallbackUrl, view}
  error: null, // {err, retry}
  history: {items: [], cursor: null, loaded: false, loading: false, error: null},
  detail: null, // {id, rec, loading, error, view, opener}
};

// ---------------------------------------------------------------- small helpers

function announce(text) {
  const live = $("announce");
  live.textContent = "";
  // A fresh text node in the next frame makes screen readers repeat an identical message.
  requestAnimationFrame(() => {
    live.textContent = text;
  });
}

function errorBox(err, retry) {
  return [
    h("p", {class: "error-title"}, t("error.title")),
    h("p", {class: "error-message", "data-testid": "error-message", "data-code": err.code || ""}, errorMessage(err)),
    err.requestId ? h("p", {class: "muted small"}, t("error.requestId", {id: err.requestId})) : null,
    retry && err.retryable
      ? h("button", {type: "button", class: "primary", "data-testid": "retry", onclick: retry}, t("action.retry"))
      : null,
  ];
}

function renderErrorInto(el, slot) {
  clear(el);
  show(el, Boolean(slot));
  if (slot) el.append(...errorBox(slot.err, slot.retry).filter(Boolean));
}

function modelName(name) {
  const key = `model.${name}`;
  const text = t(key);
  if (text !== key) return text;
  const model = state.models.find((m) => m.name === name);
  return (model && pick(model.description)) || name;
}

function labelFor(modelName_, labelId) {
  const model = state.models.find((m) => m.name === modelName_);
  const label = model && (model.labels || []).find((l) => l.id === labelId);
  if (!label) return labelId || "";
  return lang() === "zh" ? label.zh : label.en;
}

function confirmDialog(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), {once: true});
  });
}

// ---------------------------------------------------------------- models and samples

function renderModels() {
  const box = $("model-options");
  clear(box);
  for (const m of state.models) {
    const hintKey = `model.${m.name}.hint`;
    const hint = t(hintKey) !== hintKey ? t(hintKey) : pick(m.intended_use);
    box.append(h("label", {class: "model-option"},
      h("input", {type: "radio", name: "model", value: m.name, checked: m.name === state.model,
        onchange: () => selectModel(m.name)}),
      h("span", {class: "model-text"},
        h("span", {class: "model-name"}, modelName(m.name)),
        hint ? h("span", {class: "model-hint"}, hint) : null)));
  }
  renderModelDemo();
}

function renderModelDemo() {
  const current = state.models.find((m) => m.name === state.model);
  const banner = $("model-demo");
  const demo = Boolean(current && current.demo);
  const who = current && pick(current.trained_on);
  banner.className = demo ? "banner demo" : "banner model-notice";
  banner.textContent = demo ? t("result.demo") : who ? t("result.trainedOn", {who}) : t("result.notValidated");
  // An answer carries its own notice: one banner at a time is enough.
  show(banner, Boolean(current) && !state.result);
}

function selectModel(name) {
  state.model = name;
  // Not a full re-render: that would take the keyboard focus away from the radio being chosen.
  for (const radio of document.querySelectorAll('input[name="model"]')) radio.checked = radio.value === name;
  renderModelDemo();
  renderSamples();
}

async function loadModels() {
  try {
    const body = await api.listModels();
    if (body && Array.isArray(body.models) && body.models.length) {
      state.models = body.models;
      if (!state.models.some((m) => m.name === state.model)) state.model = body.default || state.models[0].name;
      renderModels();
      renderSamples();
    }
  } catch {
    // The built-in list stays; a failed predict will say what is wrong.
  }
}

function renderSamples() {
  const list = $("sample-list");
  clear(list);
  const mine = state.samples.filter((s) => !s.model || s.model === state.model);
  show($("samples"), mine.length > 0);
  for (const s of mine) {
    const name = labelFor(s.model, s.label) || s.file;
    list.append(h("li", {},
      h("button", {type: "button", class: "sample", "data-file": s.file, "aria-label": t("samples.use", {label: name}),
        "aria-disabled": state.busy ? "true" : null, onclick: () => useSample(s)},
      h("img", {src: api.sampleUrl(s.file), alt: "", loading: "lazy", width: "96", height: "96"}),
      h("span", {class: "sample-name"}, name))));
  }
}

async function loadSamples() {
  try {
    const body = await api.listSamples();
    state.samples = (body && Array.isArray(body.samples)) ? body.samples : [];
  } catch {
    state.samples = []; // a static deploy has no bundled samples: the section stays hidden
  }
  renderSamples();
}

async function useSample(sample) {
  if (state.busy || state.phase) return; // one analysis at a time
  if (sample.model && sample.model !== state.model) selectModel(sample.model);
  state.phase = "sample";
  state.error = null;
  clearResult();
  renderProgress();
  renderError();
  let file;
  try {
    file = await api.sampleFile(sample.file);
  } catch (caught) {
    const err = api.normalize(caught);
    state.phase = null;
    state.error = {err, retry: () => useSample(sample)};
    renderProgress();
    renderError();
    return;
  }
  state.phase = null;
  analyze(file);
}

// ---------------------------------------------------------------- the prediction

function renderProgress() {
  const box = $("progress");
  const bar = $("progress-bar");
  const text = $("progress-text");
  const active = Boolean(state.busy || state.phase);
  show(box, active);
  $("drop").setAttribute("aria-disabled", active ? "true" : "false");
  for (const b of document.querySelectorAll(".sample")) b.setAttribute("aria-disabled", active ? "true" : "false");
  show($("cancel"), Boolean(state.busy));
  if (!active) return;
  if (state.phase === "uploading") {
    bar.value = state.progress;
    text.textContent = t("progress.uploading", {pct: Math.round(state.progress * 100)});
  } else {
    bar.removeAttribute("value"); // indeterminate: the server is thinking
    text.textContent = t("progress.analyzing");
  }
}

function renderError() {
  renderErrorInto($("error"), state.error);
}

function renderResultView() {
  const box = $("result");
  clear(box);
  show(box, Boolean(state.result));
  renderModelDemo();
  if (!state.result) return;
  const {rec, imageUrl, fallbackUrl, view} = state.result;
  const again = h("div", {class: "card-actions"},
    h("button", {type: "button", class: "secondary", onclick: () => $("drop").focus()}, t("action.again")));
  box.append(renderResult(rec, {imageUrl, fallbackUrl, view, actions: again}));
}

/** A new analysis starts: the previous answer goes (next to a new error it would read as this image's). */
function clearResult() {
  if (state.result && state.result.localUrl) URL.revokeObjectURL(state.result.localUrl);
  state.result = null;
  renderResultView();
}

function announceResult(rec) {
  if (isRefused(rec)) {
    announce(t("result.refusedAnnounce", {reason: pick(rec.quality.message) || rec.quality.reason || ""}));
  } else {
    announce(t("result.announce", {label: labelNames(rec)[0], pct: percent(rec.confidence)}));
  }
}

// A chosen file is prepared once (downscaled, upright, no metadata; prepare.js) and keeps one job (its
// request id and upload) for every retry of it.
async function analyze(file, job = api.newJob(), prepared = null) {
  if (state.busy) return;
  const controller = new AbortController();
  state.busy = controller;
  state.phase = "uploading";
  state.progress = 0;
  state.error = null;
  clearResult();
  renderError();
  renderProgress();
  let ready = prepared;
  try {
    ready ??= api.CLIENT_LEGACY ? {file, prepared: false} : await prepareImage(file);
    const rec = await api.predict(ready.file, state.model, {
      signal: controller.signal,
      job,
      onProgress: (fraction) => {
        state.progress = fraction;
        renderProgress();
      },
      onUploaded: () => {
        state.phase = "analyzing";
        renderProgress();
      },
    });
    // Browsers cannot show DICOM: then only the server's stored JPEG (or none) is shown.
    const shown = ready.file;
    const localUrl = /^image\/(jpeg|png|webp|bmp|gif)$/.test(shown.type) ? URL.createObjectURL(shown) : "";
    const stored = (rec.image && rec.image.url) || "";
    state.result = {rec, localUrl, imageUrl: stored || localUrl, fallbackUrl: localUrl,
      view: {heatmap: true, opacity: 0.8}};
    state.history.loaded = false;
    renderResultView();
    const heading = $("result").querySelector(".card-title");
    if (heading) heading.focus({preventScroll: true});
    $("result").scrollIntoView({behavior: "smooth", block: "start"});
    announceResult(rec);
  } catch (caught) {
    const err = api.normalize(caught);
    if (err.code !== "aborted") {
      state.error = {err, retry: () => analyze(file, job, ready)};
    }
  } finally {
    state.busy = null;
    state.phase = null;
    renderProgress();
    renderError();
  }
  if (state.error) $("error").scrollIntoView({behavior: "smooth", block: "nearest"});
}

function wireInput() {
  const drop = $("drop");
  const input = $("file");
  drop.addEventListener("click", () => {
    if (!state.busy && !state.phase) input.click();
  });
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    input.value = ""; // the same file may be chosen again
    if (file) analyze(file);
  });
  drop.addEventListener("dragenter", (e) => {
    e.preventDefault();
    drop.classList.add("dragging");
  });
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("dragging");
    const file = e.dataTransfer.files && e.dataTransfer.files[0];
    if (file) analyze(file);
  });
  // A file dropped beside the zone must not make the browser navigate away to it.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  $("cancel").addEventListener("click", () => state.busy && state.busy.abort());
}

// ---------------------------------------------------------------- history

function historyRow(item) {
  const refused = isRefused(item);
  const [name] = labelNames(item);
  const summary = refused ? t("history.refused") : `${name} · ${percent(item.confidence)}`;
  const when = formatTime(item.created_at);
  const thumb = item.image && item.image.url
    ? h("img", {class: "thumb", src: item.image.url, alt: "", loading: "lazy", width: "56", height: "56"})
    : h("span", {class: "thumb placeholder", "aria-hidden": "true"}, "肺");
  const open = h("button", {type: "button", class: "rec-open", "data-testid": "history-open",
    onclick: (e) => openDetail(item.id, e.currentTarget)},
  thumb,
  h("span", {class: "rec-text"},
    h("span", {class: "rec-label"}, summary),
    h("span", {class: "rec-meta muted small"},
      [modelName(item.model && item.model.name), when].filter(Boolean).join(" · ")),
    item.uncertain && !refused ? h("span", {class: "tag"}, t("result.uncertain")) : null,
    reviewedTag(item)));
  const del = h("button", {type: "button", class: "rec-delete danger-ghost", "data-testid": "history-delete",
    "aria-label": `${t("action.delete")}: ${summary} ${when}`, onclick: () => deleteRecord(item.id)},
  t("action.delete"));
  return h("li", {class: "rec", "data-id": item.id, "data-testid": "history-item"}, open, del);
}

function renderHistory() {
  const hist = state.history;
  const list = $("history-list");
  clear(list);
  for (const item of hist.items) list.append(historyRow(item));
  show($("history-loading"), hist.loading);
  show($("history-empty"), hist.loaded && !hist.loading && !hist.error && hist.items.length === 0);
  show($("load-more"), Boolean(hist.cursor) && !hist.loading && !hist.error);
  show($("delete-all"), hist.items.length > 0);
  renderErrorInto($("history-error"), hist.error);
}

async function loadHistory({reset = false} = {}) {
  const hist = state.history;
  if (hist.loading) return;
  if (reset) {
    hist.items = [];
    hist.cursor = null;
    hist.loaded = false;
  }
  const before = hist.items.length;
  hist.loading = true;
  hist.error = null;
  renderHistory();
  try {
    const page = await api.listHistory(reset ? null : hist.cursor, PAGE_SIZE);
    const known = new Set(hist.items.map((i) => i.id));
    hist.items.push(...(page.items || []).filter((i) => !known.has(i.id)));
    hist.cursor = page.next_cursor || null;
    hist.loaded = true;
  } catch (caught) {
    const err = api.normalize(caught);
    hist.error = {err, retry: () => loadHistory({reset})};
  } finally {
    hist.loading = false;
    renderHistory();
  }
  // "Load more" hides itself while loading: hand the focus to the first new record instead.
  if (!reset && (document.activeElement === document.body || !document.activeElement)) {
    const first = $("history-list").querySelectorAll(".rec-open")[before];
    if (first) first.focus();
  }
}

function removeFromHistory(id) {
  const hist = state.history;
  const index = hist.items.findIndex((i) => i.id === id);
  if (index >= 0) hist.items.splice(index, 1);
  renderHistory();
  // Keep keyboard focus in the list rather than losing it to <body>.
  const next = $("history-list").querySelectorAll(".rec-open")[Math.max(0, index - 1)];
  (next || $("history-title")).focus();
  if (hist.items.length === 0 && hist.cursor) loadHistory();
}

async function deleteRecord(id, {confirmed = false} = {}) {
  if (!confirmed && !(await confirmDialog(t("history.confirmOne")))) return;
  state.history.error = null;
  try {
    await api.deleteRecord(id);
  } catch (caught) {
    const err = api.normalize(caught);
    if (err.code !== "not_found") { // already gone is what the user wanted
      state.history.error = {err, retry: () => deleteRecord(id, {confirmed: true})};
      renderHistory();
      return;
    }
  }
  if (state.detail && state.detail.id === id) closeDetail({restoreFocus: false});
  if (state.result && state.result.rec.id === id) {
    state.result = null;
    renderResultView();
  }
  removeFromHistory(id);
  announce(t("history.deleted"));
}

async function deleteAll({confirmed = false} = {}) {
  if (!confirmed && !(await confirmDialog(t("history.confirmAll")))) return;
  const hist = state.history;
  hist.error = null;
  try {
    const body = await api.deleteAll();
    hist.items = [];
    hist.cursor = null;
    hist.loaded = true;
    state.result = null;
    renderResultView();
    announce(t("history.deletedAll", {n: body && typeof body.deleted === "number" ? body.deleted : 0}));
  } catch (caught) {
    const err = api.normalize(caught);
    hist.error = {err, retry: () => deleteAll({confirmed: true})};
  }
  renderHistory();
  $("history-title").focus();
}

// ---------------------------------------------------------------- a history record, opened

function renderDetail() {
  const d = state.detail;
  const body = $("detail-body");
  clear(body);
  if (!d) return;
  if (d.loading) body.append(h("p", {class: "muted"}, t("history.loading")));
  if (d.rec) body.append(renderResult(d.rec, {view: d.view, title: false}));
  if (d.rec) body.append(ownerPanel(d.rec, d.reviewUi, {onChange: (rec) => updateRecord(rec), rerender: renderDetail}));
  renderErrorInto($("detail-error"), d.error);
  $("detail-delete").hidden = !d.rec;
}

/** A record changed in the detail (consent, a share): the detail and its history row follow. */
function updateRecord(rec) {
  if (state.detail && state.detail.id === rec.id) state.detail.rec = rec;
  const index = state.history.items.findIndex((i) => i.id === rec.id);
  if (index >= 0) state.history.items[index] = rec;
  renderDetail();
}

async function openDetail(id, opener) {
  state.detail = {id, rec: null, loading: true, error: null, view: {heatmap: true, opacity: 0.8}, opener,
    reviewUi: {}};
  renderDetail();
  const dialog = $("detail");
  if (!dialog.open) dialog.showModal();
  $("detail-close").focus();
  try {
    const rec = await api.getRecord(id);
    if (!state.detail || state.detail.id !== id) return;
    state.detail.rec = rec;
  } catch (caught) {
    const err = api.normalize(caught);
    if (!state.detail || state.detail.id !== id) return;
    state.detail.error = {err, retry: () => openDetail(id, opener)};
  }
  state.detail.loading = false;
  renderDetail();
}

function closeDetail({restoreFocus = true} = {}) {
  const d = state.detail;
  state.detail = null;
  const dialog = $("detail");
  if (dialog.open) dialog.close();
  clear($("detail-body"));
  if (restoreFocus && d && d.opener && d.opener.isConnected) d.opener.focus();
}

function wireHistory() {
  $("load-more").addEventListener("click", () => loadHistory());
  $("delete-all").addEventListener("click", () => deleteAll());
  $("detail-close").addEventListener("click", () => closeDetail());
  $("detail").addEventListener("cancel", (e) => {
    e.preventDefault(); // Esc: close through our own path, which restores focus
    closeDetail();
  });
  $("detail-delete").addEventListener("click", () => state.detail && deleteRecord(state.detail.id));
}

// ---------------------------------------------------------------- language, routing, start

function renderLang() {
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", b.dataset.lang === lang() ? "true" : "false");
  }
}

function renderAll() {
  applyStatic(document);
  renderLang();
  renderModels();
  renderSamples();
  renderProgress();
  renderError();
  renderResultView();
  renderHistory();
  renderDetail();
}

function wireLang() {
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      setLang(b.dataset.lang);
      renderAll();
    });
  }
}

function route() {
  const history = location.hash.startsWith("#/history");
  show($("view-analyze"), !history);
  show($("view-history"), history);
  const [on, off] = history ? ["tab-history", "tab-analyze"] : ["tab-analyze", "tab-history"];
  $(on).setAttribute("aria-current", "page");
  $(off).removeAttribute("aria-current");
  if (history) loadHistory({reset: true}); // always fresh: another tab may have changed it
}

function start() {
  setStaticVars({mb: Math.round(api.MAX_UPLOAD_BYTES / 1e6)});
  setLang(detectLang());
  wireLang();
  wireInput();
  wireHistory();
  renderAll();
  window.addEventListener("hashchange", route);
  route();
  loadModels();
  loadSamples();
  document.body.dataset.ready = "true"; // for tests and for CSS: the module has run
}

start();

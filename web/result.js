// Renders one answer (docs/API.md "A prediction") — a fresh result or a history record — as a card.
// The states: confident, uncertain (with its plain-words reason), refused by the input gate
// (quality.ok === false: no diagnosis, probabilities marked as not one), demo model, quality notes.

import {h} from "./dom.js";
import {lang, pick, refusalMessage, t} from "./i18n.js";

export function percent(p) {
  if (typeof p !== "number" || !Number.isFinite(p)) return "—";
  if (p > 0 && p < 0.001) return "<0.1%";
  const locale = lang() === "zh" ? "zh-CN" : "en";
  return new Intl.NumberFormat(locale, {style: "percent", maximumFractionDigits: 1}).format(p);
}

export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const locale = lang() === "zh" ? "zh-CN" : "en";
  return new Intl.DateTimeFormat(locale, {dateStyle: "medium", timeStyle: "short"}).format(date);
}

/** The label in the current language, and the other language beside it. */
export function labelNames(item) {
  const zh = item.label_zh || item.label || "";
  const en = item.label_en || item.label || "";
  return lang() === "zh" ? [zh, en] : [en, zh];
}

export function isRefused(rec) {
  return Boolean(rec.quality && rec.quality.ok === false);
}

function verdict(rec) {
  const [main, other] = labelNames(rec);
  return h("div", {class: "verdict"},
    h("p", {class: "kicker"}, t("result.label")),
    h("p", {class: "label", "data-testid": "result-label"},
      h("span", {lang: lang() === "zh" ? "zh-CN" : "en"}, main),
      other && other !== main ? h("span", {class: "label-other", lang: lang() === "zh" ? "en" : "zh-CN"}, other) : null),
    h("p", {class: "confidence"}, `${t("result.confidence")} `,
      h("strong", {"data-testid": "result-confidence"}, percent(rec.confidence))));
}

function uncertainBox(rec) {
  return h("div", {class: "notice uncertain", "data-testid": "result-uncertain"},
    h("p", {class: "notice-title"}, t("result.uncertain")),
    h("p", {}, pick(rec.uncertain_reason) || t("result.uncertainHelp")));
}

function refusedBox(rec) {
  return h("div", {class: "notice refused", "data-testid": "result-refused"},
    h("p", {class: "notice-title"}, t("result.refused")),
    h("p", {"data-testid": "refused-reason"}, refusalMessage(rec.quality)),
    h("p", {}, t("result.refusedHelp")));
}

function warnings(rec) {
  const list = (rec.quality && rec.quality.warnings) || [];
  if (!list.length) return null;
  return h("div", {class: "notice warn"},
    h("p", {class: "notice-title"}, t("result.warnings")),
    h("ul", {}, list.map((w) => h("li", {}, pick(w) || w.code))));
}

function probabilities(rec, refused) {
  const rows = [...(rec.probabilities || [])].sort((a, b) => b.p - a.p);
  const headingId = `probs-${rec.id || "x"}-${Math.random().toString(36).slice(2, 7)}`;
  const note = refused ? h("p", {class: "muted", "data-testid": "probabilities-note"},
    pick(rec.probabilities_note) || t("result.notDiagnosis")) : null;
  return h("section", {class: `probs${refused ? " not-diagnosis" : ""}`, "aria-labelledby": headingId},
    h("h3", {id: headingId}, t("result.probabilities")),
    note,
    h("ul", {class: "bars", "data-testid": "prob-bars"}, rows.map((row) => {
      const [main] = labelNames(row);
      const pct = Math.max(0, Math.min(1, Number(row.p) || 0));
      return h("li", {class: "bar-row", "data-label": row.label, "data-p": String(row.p)},
        h("span", {class: "bar-name"}, main),
        h("span", {class: "bar-track", "aria-hidden": "true"},
          h("span", {class: "bar-fill", style: {width: `${(pct * 100).toFixed(1)}%`}})),
        h("span", {class: "bar-pct"}, percent(row.p)));
    })));
}

function heatmapUrl(rec) {
  const hm = rec.heatmap || {};
  return hm.url || hm.data_url || "";
}

function figure(rec, imageUrl, fallbackUrl, view, onViewChange) {
  const heat = heatmapUrl(rec);
  const base = imageUrl || (rec.image && rec.image.url) || fallbackUrl || "";
  if (!base && !heat) return null;
  // If the stored image's short-lived URL fails, show the user's local copy instead.
  const onBaseError = (e) => {
    if (fallbackUrl && e.currentTarget.src !== fallbackUrl) e.currentTarget.src = fallbackUrl;
  };
  const heatImg = heat ? h("img", {class: "heat", src: heat, alt: t("result.heatmapAlt"),
    "data-testid": "heatmap", style: {opacity: view.heatmap ? String(view.opacity) : "0"}}) : null;
  const stack = h("div", {class: "stack"},
    base ? h("img", {class: "base", src: base, alt: t("result.imageAlt"), "data-testid": "result-image",
      onerror: onBaseError}) : null,
    heatImg);
  if (!heatImg) return h("figure", {class: "figure"}, stack);

  const opacity = h("input", {type: "range", min: "0", max: "100", step: "5",
    value: String(Math.round(view.opacity * 100)), disabled: !view.heatmap, "data-testid": "heatmap-opacity"});
  const toggle = h("input", {type: "checkbox", checked: view.heatmap, "data-testid": "heatmap-toggle"});
  const apply = () => {
    view.heatmap = toggle.checked;
    view.opacity = Number(opacity.value) / 100;
    view.touched = true;
    opacity.disabled = !view.heatmap;
    heatImg.style.opacity = view.heatmap ? String(view.opacity) : "0";
    heatImg.hidden = !view.heatmap;
    if (onViewChange) onViewChange(view);
  };
  toggle.addEventListener("change", apply);
  opacity.addEventListener("input", apply);
  heatImg.hidden = !view.heatmap;
  return h("figure", {class: "figure"}, stack,
    h("figcaption", {},
      h("div", {class: "controls"},
        h("label", {class: "check"}, toggle, ` ${t("result.heatmap")}`),
        h("label", {class: "range"}, h("span", {}, t("result.opacity")), opacity)),
      h("p", {class: "muted small"}, t("result.heatmapHelp"))));
}

/** Whom a real model was trained on and that it is not clinically validated (a record from before
 * answers carried `notice` is told from its model's `trained_on`). */
function modelNotice(rec) {
  const who = rec.model && pick(rec.model.trained_on);
  const text = pick(rec.notice) || (who ? t("result.trainedOn", {who}) : t("result.notValidated"));
  return h("p", {class: "banner model-notice", "data-testid": "model-notice"}, text);
}

function meta(rec) {
  const parts = [];
  if (rec.model) parts.push(t("result.model", {name: rec.model.name || "", version: rec.model.version || ""}));
  if (rec.latency_ms && typeof rec.latency_ms.total === "number") {
    parts.push(t("result.latency", {ms: Math.round(rec.latency_ms.total)}));
  }
  if (rec.created_at) parts.push(formatTime(rec.created_at));
  return h("p", {class: "meta muted small"}, parts.join(" · "));
}

/**
 * The answer as a card. `imageUrl` (a local object URL) is preferred over the record's own image URL;
 * `view` ({heatmap: bool, opacity: 0..1}) is kept by the caller so a re-render (language switch) keeps it.
 */
export function renderResult(rec, {imageUrl = "", fallbackUrl = "", view = {heatmap: true, opacity: 0.8}, onViewChange,
  title = true, actions = null} = {}) {
  const refused = isRefused(rec);
  // A refused image gets no opinion, so its heatmap starts hidden (still there, for transparency).
  if (refused && view.heatmap && !view.touched) view.heatmap = false;
  const classes = ["card", refused ? "is-refused" : "", !refused && rec.uncertain ? "is-uncertain" : ""];
  const demo = rec.model && rec.model.demo;
  const anonymous = rec.heatmap && rec.heatmap.data_url && !rec.heatmap.key;
  return h("article", {class: classes.filter(Boolean).join(" "), "data-testid": "result-card", "data-id": rec.id,
    "data-state": refused ? "refused" : rec.uncertain ? "uncertain" : "confident"},
  title ? h("h2", {class: "card-title", tabindex: "-1"}, t("result.heading")) : null,
  demo ? h("p", {class: "banner demo", "data-testid": "demo-banner"},
    pick(rec.demo_notice) || t("result.demo")) : modelNotice(rec),
  h("div", {class: "card-grid"},
    figure(rec, imageUrl, fallbackUrl, view, onViewChange),
    h("div", {class: "card-side"},
      refused ? refusedBox(rec) : verdict(rec),
      !refused && rec.uncertain ? uncertainBox(rec) : null,
      warnings(rec),
      probabilities(rec, refused),
      meta(rec),
      anonymous ? h("p", {class: "muted small"}, t("result.anonymous")) : null)),
  h("p", {class: "disclaimer card-disclaimer"}, pick(rec.disclaimer) || t("disclaimer")),
  actions);
}

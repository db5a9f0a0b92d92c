// The doctor's page (review.html): open the one record a patient shared, read the film and the AI's
// answer, and record a read — agree / my label / cannot tell — with a note (docs/API.md).
//
// A web doctor signs in once with the link the site's operator gave them (review.html#signin=<token>:
// a long-lived token kept in this browser's localStorage); a patient's link is review.html#share=<token>.
// Both tokens arrive in the URL fragment, which browsers never send to a server, and are removed from
// the address bar at once. Mini program doctors use the mini program's review page instead.

import {ApiError, normalize, url} from "./api.js";
import {clear, h, show} from "./dom.js";
import {detectLang, errorMessage, lang, setLang} from "./i18n.js";
import {renderResult} from "./result.js";
import {w as ownerWords} from "./review.js";

const CONFIG = window.XIAOFEI_CONFIG || {};
const TIMEOUT_MS = CONFIG.requestTimeoutMs || 20000;
const REVIEWER_KEY = "xiaofei.reviewer";
const $ = (id) => document.getElementById(id);

const WORDS = {
  zh: {
    title: "小肺 · 医生审阅",
    tagline: "患者分享给你的一条记录：请阅片并给出你的判断。",
    loading: "正在打开分享的记录…",
    noShare: "这个页面需要患者分享的链接。",
    signin: "请先用本站管理员发给你的登录链接打开一次本页面，再打开患者的分享链接。",
    signedIn: "已登录为审阅医生。现在可以打开患者的分享链接。",
    notReviewer: "你还不在本站的审阅医生名单中。请把你的审阅编码发给管理员：{code}",
    yourRead: "你的判断",
    agree: "同意 AI 的结果",
    label: "我的判断：",
    cannotTell: "无法判断",
    note: "备注（可选）",
    save: "保存判断",
    saved: "已保存，患者可以看到你的判断。",
    refusedAgree: "AI 没有给出结论，请给出你的判断或选择“无法判断”。",
    expires: "链接到期：{when}",
  },
  en: {
    title: "Xiaofei · Doctor's review",
    tagline: "A record a patient shared with you: read the film and give your read.",
    loading: "Opening the shared record…",
    noShare: "This page needs a patient's share link.",
    signin: "Open this page once with the sign-in link this site's operator gave you, then open the patient's link.",
    signedIn: "Signed in as a reviewer. You can now open a patient's share link.",
    notReviewer: "You are not on this site's reviewer list yet. Send the operator your reviewer code: {code}",
    yourRead: "Your read",
    agree: "Agree with the AI's answer",
    label: "My read:",
    cannotTell: "Cannot tell",
    note: "Note (optional)",
    save: "Save my read",
    saved: "Saved. The patient can see your read.",
    refusedAgree: "The AI gave no answer: give your read, or choose 'cannot tell'.",
    expires: "Link expires: {when}",
  },
};

function w(key, vars = {}) {
  const text = (WORDS[lang()] || WORDS.zh)[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

const state = {share: null, view: null, error: null, saved: null, status: "", picture: {heatmap: true, opacity: 0.8}};

function reviewerToken() {
  try {
    return localStorage.getItem(REVIEWER_KEY) || "";
  } catch {
    return "";
  }
}

async function post(path, body) {
  const token = reviewerToken();
  if (!token) throw new ApiError({code: "unauthorized", status: 401});
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let res;
  let parsed;
  try {
    res = await fetch(url(path), {method: "POST", signal: controller.signal, body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${token}`}});
    parsed = await res.json().catch(() => undefined);
  } catch {
    throw new ApiError({code: controller.signal.aborted ? "timeout" : "network_error"});
  } finally {
    clearTimeout(timer);
  }
  const err = parsed && parsed.error;
  if (!res.ok) {
    throw err && typeof err.code === "string"
      ? new ApiError({code: err.code, status: res.status, message: err.message, requestId: err.request_id,
        details: err.details || null})
      : new ApiError({code: res.status >= 500 ? "unavailable" : "bad_response", status: res.status});
  }
  if (!parsed || typeof parsed !== "object") throw new ApiError({code: "bad_response", status: res.status});
  return parsed;
}

function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const signin = params.get("signin");
  if (signin) {
    try {
      localStorage.setItem(REVIEWER_KEY, signin);
    } catch {
      // Storage disabled: the doctor cannot stay signed in in this browser.
    }
  }
  const share = params.get("share");
  if (signin || share) history.replaceState(null, "", location.pathname + location.search);
  return {share, signin: Boolean(signin)};
}

function renderError() {
  const box = $("review-error");
  clear(box);
  show(box, Boolean(state.error));
  if (!state.error) return;
  const err = state.error;
  const code = err.code === "not_reviewer" && err.details && err.details.reviewer_code;
  const text = code ? w("notReviewer", {code}) : err.code === "unauthorized" ? w("signin") : errorMessage(err);
  box.append(h("p", {class: "error-message", "data-testid": "error-message", "data-code": err.code}, text));
}

function labelChoices(view) {
  return view.labels.map((l) => h("option", {value: l.id}, lang() === "zh" ? l.zh || l.en : l.en));
}

function renderForm() {
  const form = $("review-form");
  clear(form);
  const view = state.view;
  show(form, Boolean(view));
  if (!view) return;
  const rec = view.record;
  const current = rec.review || {};
  const select = h("select", {name: "label", "data-testid": "review-label", "aria-label": w("label")},
    ...labelChoices(view));
  if (current.verdict === "label") select.value = current.label;
  const radio = (value, text, extra = null) => h("label", {class: "verdict-choice"},
    h("input", {type: "radio", name: "verdict", value, checked: (current.verdict || "") === value,
      "data-testid": `verdict-${value}`, disabled: value === "agree" && !rec.label}),
    h("span", {}, text), extra);
  const note = h("textarea", {name: "note", rows: "3", maxlength: "1000", "data-testid": "review-note"});
  note.value = current.note || "";
  form.append(...[
    h("fieldset", {},
      h("legend", {}, w("yourRead")),
      radio("agree", w("agree")),
      radio("label", w("label"), select),
      radio("cannot_tell", w("cannotTell"))),
    h("label", {class: "note"}, w("note"), note),
    !rec.label ? h("p", {class: "muted small"}, w("refusedAgree")) : null,
    h("button", {type: "submit", class: "primary", "data-testid": "review-save"}, w("save")),
  ].filter(Boolean));
  form.onsubmit = async (e) => {
    e.preventDefault();
    const verdict = (form.querySelector('input[name="verdict"]:checked') || {}).value;
    state.error = null;
    try {
      const body = await post("/shared/review", {share: state.share, verdict: verdict || null,
        label: verdict === "label" ? select.value : null, note: note.value});
      state.view.record.review = body.review;
      state.saved = body.review;
    } catch (caught) {
      state.error = normalize(caught);
      state.saved = null;
    }
    renderAll();
  };
}

function renderAll() {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  $("review-title").textContent = w("title");
  $("review-tagline").textContent = w("tagline");
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", b.dataset.lang === lang() ? "true" : "false");
  }
  const status = $("review-status");
  status.textContent = state.status;
  show(status, Boolean(state.status));
  const box = $("review-record");
  clear(box);
  show(box, Boolean(state.view));
  if (state.view) {
    box.append(renderResult(state.view.record, {view: state.picture, title: false}));
    box.append(h("p", {class: "muted small"}, w("expires", {when: new Date(state.view.share.expires_at).toLocaleString()})));
  }
  renderForm();
  renderError();
  const saved = $("review-saved");
  const chosen = state.saved && state.view && state.view.labels.find((l) => l.id === state.saved.label);
  const name = chosen ? (lang() === "zh" ? chosen.zh || chosen.en : chosen.en) : "";
  saved.textContent = state.saved
    ? `${w("saved")} ${ownerWords(`verdict.${state.saved.verdict}`, {label: name})}` +
      (state.saved.note ? ` — ${state.saved.note}` : "")
    : "";
  show(saved, Boolean(state.saved));
}

async function load() {
  const {share, signin} = readHash();
  if (!share && !signin && state.share) return; // our own replaceState, or an unrelated hash
  Object.assign(state, {share, view: null, error: null, saved: null, status: ""});
  if (!share) {
    state.status = signin ? w("signedIn") : w("noShare");
  } else if (!reviewerToken()) {
    state.error = new ApiError({code: "unauthorized", status: 401});
  } else {
    state.status = w("loading");
    renderAll();
    try {
      state.view = await post("/shared", {share});
    } catch (caught) {
      state.error = normalize(caught);
    }
    state.status = "";
  }
  renderAll();
}

async function start() {
  setLang(detectLang());
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      setLang(b.dataset.lang);
      renderAll();
    });
  }
  // A new link pasted into this tab changes only the fragment: no page load, so listen for it.
  window.addEventListener("hashchange", () => load());
  await load();
  document.body.dataset.ready = "true";
}

start();

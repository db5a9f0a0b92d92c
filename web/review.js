// The doctor's read, on the owner's side: whether a record was reviewed (a tag in the history list),
// the doctor's read in the record's detail, sharing the record with a doctor (a signed link that
// expires and can be withdrawn), and the owner's consent to use it to train the site's next model.
// docs/API.md "The doctor's read". The doctor's own page is review.html (review-page.js).

import * as api from "./api.js";
import {h} from "./dom.js";
import {errorMessage, lang} from "./i18n.js";
import {formatTime} from "./result.js";

const WORDS = {
  zh: {
    reviewed: "医生已审阅",
    notReviewed: "尚无医生审阅",
    heading: "医生审阅",
    by: "{name} · {when}",
    "verdict.agree": "同意 AI 的结果",
    "verdict.label": "医生的判断：{label}",
    "verdict.cannot_tell": "医生无法判断",
    note: "医生备注：{note}",
    share: "分享给医生",
    shareHelp: "生成一个只能打开这一条记录的链接，由本站名单中的一位医生查看并给出意见。链接到期自动失效，你也可以随时撤回。",
    hours: "有效期",
    "hours.24": "1 天",
    "hours.72": "3 天",
    "hours.168": "7 天",
    link: "分享链接",
    copy: "复制链接",
    copied: "已复制",
    shares: "分享记录",
    expires: "{when} 到期",
    opened: "已由 {name} 打开",
    revoked: "已撤回",
    expired: "已过期",
    revoke: "撤回",
    consent: "同意将这张图片和医生的判断用于训练本站的下一个模型（去除身份信息，可随时撤回）",
    consentHelp: "不勾选则这张图片不会离开存储。",
  },
  en: {
    reviewed: "Reviewed by a doctor",
    notReviewed: "Not reviewed by a doctor yet",
    heading: "Doctor's read",
    by: "{name} · {when}",
    "verdict.agree": "Agrees with the AI's answer",
    "verdict.label": "The doctor's read: {label}",
    "verdict.cannot_tell": "The doctor cannot tell",
    note: "Doctor's note: {note}",
    share: "Share with a doctor",
    shareHelp: "Makes a link that opens this one record only, for one doctor on this site's reviewer list. It expires on its own, and you can withdraw it at any time.",
    hours: "Valid for",
    "hours.24": "1 day",
    "hours.72": "3 days",
    "hours.168": "7 days",
    link: "Share link",
    copy: "Copy link",
    copied: "Copied",
    shares: "Share links",
    expires: "expires {when}",
    opened: "opened by {name}",
    revoked: "withdrawn",
    expired: "expired",
    revoke: "Withdraw",
    consent: "I agree that this image and the doctor's read may train this site's next model (identity removed; I can withdraw this at any time)",
    consentHelp: "Unticked, this image never leaves the store.",
  },
};

export function w(key, vars = {}) {
  const text = (WORDS[lang()] || WORDS.zh)[key] ?? WORDS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

// ---- the API (docs/API.md) ----

export function shareRecord(id, hours) {
  return api.call("POST", `/history/${encodeURIComponent(id)}/share`, {expires_in_hours: hours});
}

export function revokeShare(id, shareId) {
  return api.call("DELETE", `/history/${encodeURIComponent(id)}/share/${encodeURIComponent(shareId)}`);
}

export function setConsent(id, exportOk) {
  return api.call("POST", `/history/${encodeURIComponent(id)}/consent`, {export: exportOk});
}

// ---- rendering ----

function labelText(rec, id) {
  const p = (rec.probabilities || []).find((x) => x.label === id);
  if (!p) return id || "";
  return lang() === "zh" ? p.label_zh || id : p.label_en || id;
}

/** The tag of a history row: reviewed or not. */
export function reviewedTag(item) {
  return item.review
    ? h("span", {class: "tag reviewed", "data-testid": "reviewed-tag"}, w("reviewed"))
    : null;
}

export function reviewSummary(rec) {
  const r = rec.review;
  if (!r) return h("p", {class: "muted", "data-testid": "review-none"}, w("notReviewed"));
  const verdict = r.verdict === "label"
    ? w("verdict.label", {label: labelText(rec, r.label)})
    : w(`verdict.${r.verdict}`);
  return h("div", {class: "review-read", "data-testid": "review-read", "data-verdict": r.verdict},
    h("p", {class: "review-verdict"}, verdict),
    r.note ? h("p", {class: "review-note"}, w("note", {note: r.note})) : null,
    h("p", {class: "muted small"}, w("by", {name: r.by || "", when: formatTime(r.at)})));
}

function shareState(share) {
  if (share.revoked_at) return w("revoked");
  if (new Date(share.expires_at).getTime() <= Date.now()) return w("expired");
  const parts = [w("expires", {when: formatTime(share.expires_at)})];
  if (share.claimed_name) parts.push(w("opened", {name: share.claimed_name}));
  return parts.join(" · ");
}

/**
 * The owner's panel under a record: the doctor's read, consent, share links.
 * `ui` ({link, error, busy}) is kept by the caller across re-renders; `onChange(rec)` gets the record
 * as changed (the caller re-renders), `rerender()` redraws after a local change.
 */
export function ownerPanel(rec, ui, {onChange, rerender}) {
  const fail = (caught) => {
    ui.error = api.normalize(caught);
    ui.busy = false;
    rerender();
  };
  const consent = h("label", {class: "consent"},
    h("input", {type: "checkbox", "data-testid": "consent", checked: Boolean(rec.consent && rec.consent.export),
      disabled: ui.busy, onchange: (e) => {
        const want = e.currentTarget.checked;
        ui.busy = true;
        ui.error = null;
        setConsent(rec.id, want).then((body) => {
          ui.busy = false;
          onChange({...rec, consent: body.consent});
        }, fail);
      }}),
    h("span", {}, w("consent")));
  const hours = h("select", {"data-testid": "share-hours", "aria-label": w("hours")},
    ...[24, 72, 168].map((n) => h("option", {value: String(n), selected: n === 72}, w(`hours.${n}`))));
  const share = h("button", {type: "button", class: "primary", "data-testid": "share", disabled: ui.busy,
    onclick: () => {
      ui.busy = true;
      ui.error = null;
      shareRecord(rec.id, Number(hours.value)).then((body) => {
        ui.busy = false;
        ui.link = body.url;
        const shares = [...(rec.shares || []), {id: body.share.id, expires_at: body.share.expires_at,
          created_at: new Date().toISOString(), revoked_at: null}];
        onChange({...rec, shares});
      }, fail);
    }}, w("share"));
  const linkBox = ui.link
    ? h("div", {class: "share-link"},
      h("label", {}, w("link"), h("input", {type: "text", readonly: true, value: ui.link, "data-testid": "share-link",
        onfocus: (e) => e.currentTarget.select()})),
      h("button", {type: "button", class: "secondary", onclick: async (e) => {
        const button = e.currentTarget;
        try {
          await navigator.clipboard.writeText(ui.link);
          button.textContent = w("copied");
        } catch {
          button.previousSibling.querySelector("input").select();
        }
      }}, w("copy")))
    : null;
  const shares = (rec.shares || []).slice().reverse();
  const list = shares.length
    ? h("ul", {class: "share-list", "aria-label": w("shares")}, ...shares.map((s) => h("li",
      {"data-testid": "share-item", "data-share": s.id},
      h("span", {class: "small"}, `${formatTime(s.created_at)} · ${shareState(s)}`),
      !s.revoked_at && new Date(s.expires_at).getTime() > Date.now()
        ? h("button", {type: "button", class: "danger-ghost", "data-testid": "share-revoke", disabled: ui.busy,
          onclick: () => {
            ui.busy = true;
            ui.error = null;
            revokeShare(rec.id, s.id).then(() => {
              ui.busy = false;
              const now = new Date().toISOString();
              onChange({...rec, shares: (rec.shares || []).map((x) => (x.id === s.id ? {...x, revoked_at: now} : x))});
            }, fail);
          }}, w("revoke"))
        : null)))
    : null;
  return h("section", {class: "review-panel", "data-testid": "review-panel"},
    h("h3", {}, w("heading")),
    reviewSummary(rec),
    rec.status === "done" || !rec.status ? h("div", {class: "review-actions"},
      consent,
      h("p", {class: "muted small"}, w("consentHelp")),
      h("p", {class: "muted small"}, w("shareHelp")),
      h("div", {class: "share-row"}, hours, share),
      linkBox,
      list) : null,
    ui.error ? h("p", {class: "error-message", role: "alert", "data-testid": "review-error",
      "data-code": ui.error.code}, errorMessage(ui.error)) : null);
}

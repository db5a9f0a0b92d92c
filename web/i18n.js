// The page's words in Chinese and English. Static text in index.html carries data-i18n="key" (text)
// or data-i18n-attr="attr:key;attr:key" (attributes); app.js renders dynamic text with t().

const LANG_KEY = "xiaofei.lang";
export const LANGS = ["zh", "en"]; // 中文 first

const STRINGS = {
  zh: {
    "app.title": "小肺 · AI 辅助读片",
    "app.tagline": "上传胸部X光片或皮肤照片，获得 AI 第二意见与置信度。",
    "lang.group": "界面语言",
    "nav.label": "主导航",
    "nav.skip": "跳到主要内容",
    "nav.analyze": "分析",
    "nav.history": "历史记录",
    "disclaimer": "本产品仅作辅助诊断使用，如有不适请及时就医",
    "model.legend": "选择模型",
    "model.pneumonia": "胸部X光",
    "model.pneumonia.hint": "正位胸片：正常 / 细菌性肺炎 / 病毒性肺炎",
    "model.skin": "皮肤",
    "model.skin.hint": "皮肤照片：8 种常见皮肤病",
    "drop.title": "点击选择图片，或把图片拖到这里",
    "drop.hint": "支持 JPEG、PNG、WebP、BMP、DICOM，最大 {mb} MB",
    "drop.active": "松开即可上传",
    "samples.title": "或试试示例图片",
    "samples.use": "使用示例：{label}",
    "progress.label": "上传进度",
    "progress.uploading": "正在上传… {pct}%",
    "progress.analyzing": "正在分析…",
    "action.cancel": "取消",
    "action.retry": "重试",
    "action.again": "再分析一张",
    "action.close": "关闭",
    "action.delete": "删除",
    "action.deleteAll": "全部删除",
    "action.loadMore": "加载更多",
    "action.open": "查看",
    "action.confirm": "确定删除",
    "result.heading": "分析结果",
    "result.announce": "分析完成：{label}，置信度 {pct}",
    "result.refusedAnnounce": "无法分析这张图片：{reason}",
    "result.label": "最可能的结果",
    "result.confidence": "置信度",
    "result.uncertain": "结果不确定",
    "result.uncertainHelp": "模型对这张图片把握不足，请勿依据此结果做决定。",
    "result.refused": "无法给出分析结果",
    "result.refusedHelp": "这张图片未通过质量检查，因此不给出诊断意见。请换一张清晰、符合要求的图片。",
    "result.notDiagnosis": "以下概率仅供参考，不是诊断结果。",
    "result.probabilities": "各类别概率",
    "result.heatmap": "显示热力图",
    "result.opacity": "热力图透明度",
    "result.heatmapHelp": "热力图标出模型重点关注的区域（越红越关注），并不代表病灶位置。",
    "result.imageAlt": "上传的图片",
    "result.heatmapAlt": "模型关注区域热力图",
    "result.warnings": "图片质量提示",
    "result.model": "模型 {name} {version}",
    "result.latency": "用时 {ms} 毫秒",
    "result.demo": "演示模型：这些权重不是用真实临床图片训练的，结果没有医学意义。",
    "result.trainedOn": "本模型的训练数据为{who}，未经临床验证，须由医生阅片。",
    "result.notValidated": "本模型未经临床验证，须由医生阅片。",
    "result.anonymous": "未登录会话：本次结果未保存到历史记录。",
    "history.heading": "历史记录",
    "history.empty": "还没有记录。分析过的图片会出现在这里，保留一段时间后自动删除。",
    "history.loading": "正在加载…",
    "history.refused": "未通过质量检查",
    "history.confirmOne": "删除这条记录？图片和热力图也会一并删除，无法恢复。",
    "history.confirmAll": "删除全部历史记录？所有图片和热力图都会被删除，无法恢复。",
    "history.deleted": "已删除",
    "history.deletedAll": "已删除 {n} 条记录",
    "history.count": "共显示 {n} 条",
    "history.detail": "记录详情",
    "about.heading": "关于与隐私",
    "about.what": "小肺给出的是 AI 第二意见，不是诊断，不能代替医生。",
    "about.privacy": "本机浏览器保存一个匿名会话令牌；你分析过的图片（已去除元数据）、热力图和结果保存在服务端，仅你本人可见，到期自动删除，也可以随时在“历史记录”中全部删除。",
    "error.title": "出错了",
    "error.requestId": "请求编号：{id}",
    "quality.warning": "提示",
  },
  en: {
    "app.title": "Xiaofei · AI second opinion",
    "app.tagline": "Upload a chest X-ray or a skin photo for an AI second opinion with its confidence.",
    "lang.group": "Language",
    "nav.label": "Main navigation",
    "nav.skip": "Skip to main content",
    "nav.analyze": "Analyze",
    "nav.history": "History",
    "disclaimer": "For decision support only; see a doctor.",
    "model.legend": "Choose a model",
    "model.pneumonia": "Chest X-ray",
    "model.pneumonia.hint": "Frontal chest X-ray: normal / bacterial / viral pneumonia",
    "model.skin": "Skin",
    "model.skin.hint": "Skin photo: 8 common skin diseases",
    "drop.title": "Choose an image, or drop one here",
    "drop.hint": "JPEG, PNG, WebP, BMP or DICOM, up to {mb} MB",
    "drop.active": "Release to upload",
    "samples.title": "Or try a sample image",
    "samples.use": "Use sample: {label}",
    "progress.label": "Upload progress",
    "progress.uploading": "Uploading… {pct}%",
    "progress.analyzing": "Analyzing…",
    "action.cancel": "Cancel",
    "action.retry": "Retry",
    "action.again": "Analyze another image",
    "action.close": "Close",
    "action.delete": "Delete",
    "action.deleteAll": "Delete all",
    "action.loadMore": "Load more",
    "action.open": "Open",
    "action.confirm": "Delete",
    "result.heading": "Result",
    "result.announce": "Done: {label}, confidence {pct}",
    "result.refusedAnnounce": "This image cannot be analyzed: {reason}",
    "result.label": "Most likely",
    "result.confidence": "Confidence",
    "result.uncertain": "Uncertain result",
    "result.uncertainHelp": "The model is not sure about this image. Do not base any decision on it.",
    "result.refused": "No result for this image",
    "result.refusedHelp": "The image did not pass the quality check, so no opinion is given. Please try a clear image of the right kind.",
    "result.notDiagnosis": "These probabilities are for reference only. They are not a diagnosis.",
    "result.probabilities": "Probability of each class",
    "result.heatmap": "Show heatmap",
    "result.opacity": "Heatmap opacity",
    "result.heatmapHelp": "The heatmap shows where the model looked (red = most attention). It does not mark a lesion.",
    "result.imageAlt": "The uploaded image",
    "result.heatmapAlt": "Heatmap of where the model looked",
    "result.warnings": "Image quality notes",
    "result.model": "Model {name} {version}",
    "result.latency": "{ms} ms",
    "result.demo": "Demo model: these weights were not trained on real clinical images. The result means nothing medically.",
    "result.trainedOn": "This model was trained on {who}. It has not been clinically validated: a doctor must read the image.",
    "result.notValidated": "This model has not been clinically validated: a doctor must read the image.",
    "result.anonymous": "No session: this result was not saved to your history.",
    "history.heading": "History",
    "history.empty": "No records yet. Images you analyze appear here and are deleted automatically after a while.",
    "history.loading": "Loading…",
    "history.refused": "Did not pass the quality check",
    "history.confirmOne": "Delete this record? Its image and heatmap are deleted too. This cannot be undone.",
    "history.confirmAll": "Delete your whole history? All images and heatmaps are deleted. This cannot be undone.",
    "history.deleted": "Deleted",
    "history.deletedAll": "Deleted {n} records",
    "history.count": "Showing {n}",
    "history.detail": "Record details",
    "about.heading": "About and privacy",
    "about.what": "Xiaofei gives an AI second opinion. It is not a diagnosis and does not replace a doctor.",
    "about.privacy": "This browser keeps an anonymous session token. The images you analyze (metadata removed), their heatmaps and results are stored on the server, visible only to you, deleted automatically when they expire, and you can delete all of them at any time under History.",
    "error.title": "Something went wrong",
    "error.requestId": "Request id: {id}",
    "quality.warning": "Note",
  },
};

// Friendly messages for every error code of docs/API.md, plus the client-side ones from api.js.
const ERRORS = {
  bad_request: {
    zh: "请求有误，请刷新页面后重试。",
    en: "The request was not understood. Please reload the page and try again.",
  },
  empty_image: {zh: "没有收到图片，请重新选择一张图片。", en: "No image was received. Please choose an image again."},
  corrupt_image: {
    zh: "图片文件已损坏或不完整，请换一张图片。",
    en: "The image file is damaged or incomplete. Please try another image.",
  },
  unsupported_format: {
    zh: "不支持的文件类型，请上传 JPEG、PNG、WebP、BMP 或 DICOM 图片。",
    en: "Unsupported file type. Please upload a JPEG, PNG, WebP, BMP or DICOM image.",
  },
  payload_too_large: {
    zh: "文件太大，请上传小于 {mb} MB 的图片。",
    en: "The file is too large. Please upload an image under {mb} MB.",
  },
  image_too_large: {
    zh: "图片像素过多，请缩小后再上传。",
    en: "The image has too many pixels. Please resize it and try again.",
  },
  unauthorized: {
    zh: "会话已失效，请刷新页面后重试。",
    en: "Your session has expired. Please reload the page and try again.",
  },
  forbidden: {zh: "没有执行此操作的权限。", en: "You are not allowed to do this."},
  not_reviewer: {zh: "只有本站名单中的审阅医生才能查看分享的记录。", en: "Only doctors on this site's reviewer list can open shared records."},
  invalid_share: {zh: "分享链接无效，请让患者重新分享。", en: "This share link is not valid. Ask the patient to share again."},
  share_claimed: {zh: "该分享链接已被另一位医生打开。", en: "This share link has already been opened by another doctor."},
  record_not_ready: {zh: "这条记录还没有分析完成，请稍后再试。", en: "This record is not finished yet. Please try again shortly."},
  share_expired: {zh: "分享链接已过期，请让患者重新分享。", en: "This share link has expired. Ask the patient for a new one."},
  share_revoked: {zh: "患者已撤回该分享链接。", en: "The patient has withdrawn this share link."},
  gone: {zh: "该内容已不再可用。", en: "This is no longer available."},
  too_many_shares: {zh: "这条记录的有效分享链接已达上限，请先撤回一个。", en: "This record has too many open share links. Withdraw one first."},
  not_found: {
    zh: "找不到这条记录，它可能已被删除或已过期。",
    en: "This record was not found. It may have been deleted or expired.",
  },
  method_not_allowed: {zh: "不支持该操作。", en: "This action is not supported."},
  conflict: {zh: "数据刚刚被修改，请重试。", en: "This was changed at the same time. Please try again."},
  model_unavailable: {
    zh: "模型暂时不可用，请稍后重试。",
    en: "The model is temporarily unavailable. Please try again shortly.",
  },
  storage_unavailable: {
    zh: "存储服务暂时不可用，请稍后重试。",
    en: "Storage is temporarily unavailable. Please try again shortly.",
  },
  unknown_model: {zh: "没有这个模型，请重新选择模型。", en: "This model does not exist. Please choose another model."},
  unknown_action: {
    zh: "服务不认识这个操作，请刷新页面。",
    en: "The service does not know this action. Please reload the page.",
  },
  invalid_manifest: {
    zh: "模型配置有误，暂时无法使用，请稍后重试。",
    en: "The model is misconfigured and cannot be used right now. Please try again later.",
  },
  // Operator-side codes (model policy, function rollout): never expected here, but never shown raw either.
  invalid_policy: {
    zh: "模型配置有误，暂时无法使用，请稍后重试。",
    en: "The model is misconfigured and cannot be used right now. Please try again later.",
  },
  rollout_failed: {
    zh: "服务正在更新，请稍后重试。",
    en: "The service is being updated. Please try again shortly.",
  },
  unavailable: {
    zh: "服务暂时不可用，请稍后重试。",
    en: "The service is temporarily unavailable. Please try again shortly.",
  },
  internal_error: {
    zh: "服务出了点问题，请稍后重试。",
    en: "Something went wrong on our side. Please try again later.",
  },
  network_error: {
    zh: "无法连接到服务器，请检查网络后重试。",
    en: "Cannot reach the server. Please check your connection and try again.",
  },
  timeout: {zh: "服务器响应超时，请重试。", en: "The server took too long to answer. Please try again."},
  unknown_error: {zh: "出现未知错误，请重试。", en: "An unexpected error occurred. Please try again."},
  bad_response: {
    zh: "服务器返回了无法识别的内容，请稍后重试。",
    en: "The server sent an unexpected answer. Please try again later.",
  },
};

// Why the input gate refused an image (quality.reason), when the server sent no message of its own.
const REFUSALS = {
  not_a_radiograph: {zh: "这张图片看起来不是胸部X光片。", en: "This does not look like a chest X-ray."},
  not_skin: {zh: "这张图片看起来不是皮肤照片。", en: "This does not look like a photo of skin."},
  too_dark: {zh: "图片太暗。", en: "The image is too dark."},
  too_bright: {zh: "图片太亮。", en: "The image is too bright."},
  too_small: {zh: "图片太小，看不清细节。", en: "The image is too small to see details."},
  low_contrast: {zh: "图片对比度太低。", en: "The image contrast is too low."},
  blank: {zh: "图片几乎是空白的。", en: "The image is almost blank."},
};

let current = "zh";
let staticVars = {};

/** Values substituted into every text, e.g. {mb: 10} for the upload limit. */
export function setStaticVars(vars) {
  staticVars = {...vars};
}

export function detectLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // Storage disabled: fall through to the browser's language.
  }
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "zh";
  return nav.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function lang() {
  return current;
}

export function setLang(next) {
  current = LANGS.includes(next) ? next : "zh";
  try {
    localStorage.setItem(LANG_KEY, current);
  } catch {
    // Not persisted; still applied.
  }
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  applyStatic(document);
}

export function t(key, vars = {}) {
  return fill(STRINGS[current][key] ?? STRINGS.zh[key] ?? key, vars);
}

function fill(text, vars) {
  const all = {...staticVars, ...vars};
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in all ? String(all[name]) : m));
}

/** Pick the current language from a server's {en, zh} object (or a plain string). */
export function pick(text) {
  if (!text) return "";
  if (typeof text === "string") return text;
  return text[current] || text.zh || text.en || "";
}

/** A friendly message for an ApiError (or any error), in the current language. */
export function errorMessage(err) {
  const code = err && err.code;
  if (ERRORS[code]) return fill(ERRORS[code][current], {});
  if (err && err.serverMessage) return pick(err.serverMessage);
  return ERRORS.unknown_error[current];
}

export function refusalMessage(quality) {
  if (quality && quality.message) return pick(quality.message);
  const known = quality && REFUSALS[quality.reason];
  return known ? known[current] : t("result.refusedHelp");
}

/** Every code with its own friendly message: {code: {zh, en}} (the tests compare it with the server's). */
export function errorTable() {
  return JSON.parse(JSON.stringify(ERRORS));
}

export function applyStatic(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  document.title = t("app.title");
}

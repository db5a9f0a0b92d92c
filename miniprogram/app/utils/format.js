// Pure functions that turn a prediction (docs/API.md "A prediction") into what the components show.
// No wx, no backend: the answer is the only input, so the same record renders the same everywhere.

const DISCLAIMER = {
  zh: '本产品仅作辅助诊断使用，如有不适请及时就医',
  en: 'For decision support only; if you feel unwell, please see a doctor.',
}

const DEMO_NOTICE = {
  zh: '演示模型：权重用合成图像训练，不能用于真实诊断。',
  en: 'Demo model: its weights were trained on synthetic images and cannot be used for a real diagnosis.',
}

// For a real model whose answer carries no `notice` (an older record): its training population, if known.
function modelNotice(answer, model) {
  const given = bilingual(answer.notice, null)
  if (given) return given
  const who = bilingual(model.trained_on, null)
  if (who) {
    return {
      zh: `本模型的训练数据为${who.zh}，未经临床验证，须由医生阅片。`,
      en: `This model was trained on ${who.en}. It has not been clinically validated: a doctor must read the image.`,
    }
  }
  return {zh: '本模型未经临床验证，须由医生阅片。', en: 'This model has not been clinically validated: a doctor must read the image.'}
}

// Plain-words reasons for a refused image (quality.reason), used when the backend sends no message.
const QUALITY_REASONS = {
  not_a_radiograph: {zh: '这张图片看起来不像胸部 X 光片。', en: 'This does not look like a chest X-ray.'},
  not_skin: {zh: '这张图片看起来不像皮肤照片。', en: 'This does not look like a photo of skin.'},
  too_dark: {zh: '图片太暗，请在光线充足处重拍。', en: 'The image is too dark. Please retake it in better light.'},
  too_bright: {zh: '图片过亮或曝光过度。', en: 'The image is too bright or overexposed.'},
  too_small: {zh: '图片太小，看不清细节。', en: 'The image is too small to show detail.'},
  low_contrast: {zh: '图片对比度太低，看不清结构。', en: 'The image has too little contrast to see structures.'},
  blank: {zh: '图片几乎是空白的。', en: 'The image is almost blank.'},
}
const REFUSED_FALLBACK = {zh: '这张图片无法用于分析。', en: 'This image cannot be analysed.'}
const UNCERTAIN_FALLBACK = {
  zh: '模型对这张图片没有把握，结果仅供参考。',
  en: 'The model is not confident about this image; treat the result with care.',
}

function bilingual(value, fallback) {
  if (value && typeof value.zh === 'string' && typeof value.en === 'string' && value.zh && value.en) {
    return {zh: value.zh, en: value.en}
  }
  return fallback
}

/** 0.9134 → '91.3%' (null for a missing value). */
function percent(p, digits = 1) {
  if (typeof p !== 'number' || !isFinite(p)) return null
  return `${(Math.max(0, Math.min(1, p)) * 100).toFixed(digits)}%`
}

/** Probabilities sorted high → low, each with a bar width; the first one is marked `top`. */
function bars(probabilities) {
  const list = Array.isArray(probabilities) ? probabilities.filter((x) => x && typeof x.p === 'number') : []
  return list
    .slice()
    .sort((a, b) => b.p - a.p)
    .map((x, i) => ({
      label: x.label,
      zh: x.label_zh || x.label,
      en: x.label_en || x.label,
      pct: percent(x.p),
      width: percent(x.p),
      top: i === 0,
    }))
}

/** '2026-11-21T22:50:00Z' → '2026-11-21 22:50' in local time ('' if unreadable). */
function dateText(iso) {
  const d = new Date(iso)
  if (!iso || isNaN(d.getTime())) return ''
  const pad = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/**
 * The state of an answer: 'pending' | 'failed' | 'refused' (the input gate said no) |
 * 'uncertain' | 'ok'.
 */
function stateOf(answer) {
  if (!answer) return 'empty'
  if (answer.status === 'pending') return 'pending'
  if (answer.status === 'failed') return 'failed'
  if (answer.quality && answer.quality.ok === false) return 'refused'
  if (answer.uncertain) return 'uncertain'
  return 'ok'
}

function urlOf(ref) {
  if (!ref) return ''
  return ref.url || ref.data_url || ''
}

/** Everything result-card shows, from one answer. */
function resultView(answer) {
  const state = stateOf(answer)
  if (state === 'empty') return {state}
  const model = answer.model || {}
  const quality = answer.quality || {}
  const refused = state === 'refused'
  return {
    state,
    id: answer.id || '',
    labelZh: refused ? '' : answer.label_zh || answer.label || '',
    labelEn: refused ? '' : answer.label_en || answer.label || '',
    confidence: refused ? null : percent(answer.confidence),
    uncertainReason: state === 'uncertain' ? bilingual(answer.uncertain_reason, UNCERTAIN_FALLBACK) : null,
    refusal: refused
      ? bilingual(quality.message, QUALITY_REASONS[quality.reason] || REFUSED_FALLBACK)
      : null,
    warnings: (Array.isArray(quality.warnings) ? quality.warnings : [])
      .filter((w) => w && w.zh && w.en)
      .map((w) => ({code: w.code || '', zh: w.zh, en: w.en})),
    bars: refused ? [] : bars(answer.probabilities),
    demo: Boolean(model.demo),
    demoNotice: model.demo ? bilingual(answer.demo_notice, DEMO_NOTICE) : null,
    modelNotice: model.demo ? null : modelNotice(answer, model),
    disclaimer: bilingual(answer.disclaimer, DISCLAIMER),
    heatmapUrl: refused ? '' : urlOf(answer.heatmap),
    imageUrl: urlOf(answer.image),
    modelText: [model.name, model.version].filter(Boolean).join(' '),
    dateText: dateText(answer.created_at),
  }
}

/** One line of the history list. */
function historyItem(record) {
  const state = stateOf(record)
  const model = (record && record.model) || {}
  const labels = {
    refused: {zh: '图片未通过检查', en: 'Image refused'},
    pending: {zh: '分析中', en: 'Processing'},
    failed: {zh: '分析失败', en: 'Failed'},
  }[state]
  return {
    id: record.id,
    state,
    zh: labels ? labels.zh : record.label_zh || record.label || '',
    en: labels ? labels.en : record.label_en || record.label || '',
    confidence: state === 'ok' || state === 'uncertain' ? percent(record.confidence, 0) : null,
    uncertain: state === 'uncertain',
    modelName: model.name || '',
    demo: Boolean(model.demo),
    thumb: urlOf(record.image),
    dateText: dateText(record.created_at),
    reviewed: Boolean(record.review),
  }
}

/** A model's public card (`predict` action `models`) → what About shows. */
function modelCard(card) {
  const training = card.training || {}
  const metrics = card.metrics || {}
  const none = {zh: '', en: ''}
  return {
    name: card.name || '',
    version: card.version || '',
    demo: Boolean(card.demo),
    synthetic: Boolean(training.synthetic),
    trainedOn: bilingual(card.trained_on, null),
    description: bilingual(card.description, none),
    intendedUse: bilingual(card.intended_use, none),
    labels: (Array.isArray(card.labels) ? card.labels : []).map((l) => ({id: l.id, zh: l.zh, en: l.en})),
    accuracy: percent(metrics.accuracy),
    split: typeof metrics.split === 'string' ? metrics.split : '',
  }
}

module.exports = {
  DISCLAIMER,
  DEMO_NOTICE,
  QUALITY_REASONS,
  percent,
  bars,
  dateText,
  stateOf,
  resultView,
  historyItem,
  modelCard,
}

// utils/format.js: the answer → what the user sees, for every state.
const format = require('../../app/utils/format.js')
const {makeAnswer, makeId} = require('../helpers/fake-cloud.js')

const id = makeId(1)

test('a confident answer', () => {
  const view = format.resultView(makeAnswer({id, probs: {viral: 0.62, bacterial: 0.3, normal: 0.08}, demo: false}))
  expect(view).toMatchObject({state: 'ok', labelZh: '病毒性肺炎', labelEn: 'Viral pneumonia', confidence: '62.0%', demo: false})
  expect(view.demoNotice).toBeNull()
  expect(view.uncertainReason).toBeNull()
  expect(view.refusal).toBeNull()
  expect(view.modelText).toBe('pneumonia 1.0.0')
})

test('uncertain: the backend reason, or a plain fallback', () => {
  const reason = {zh: '两个类别很接近。', en: 'Two classes are close.'}
  let view = format.resultView(makeAnswer({id, probs: {viral: 0.5, bacterial: 0.5}, uncertain: true, uncertainReason: reason}))
  expect(view.state).toBe('uncertain')
  expect(view.uncertainReason).toEqual(reason)
  view = format.resultView(makeAnswer({id, probs: {viral: 0.5, bacterial: 0.5}, uncertain: true}))
  expect(view.uncertainReason.zh).toMatch(/没有把握/)
  expect(view.confidence).toBe('50.0%')
})

test('refused: the reason, no label, no bars, no heatmap', () => {
  const quality = {ok: false, reason: 'not_a_radiograph', message: null, warnings: []}
  const view = format.resultView(makeAnswer({id, probs: {normal: 0.4, viral: 0.6}, quality}))
  expect(view).toMatchObject({state: 'refused', labelZh: '', labelEn: '', confidence: null, bars: [], heatmapUrl: ''})
  expect(view.refusal).toEqual(format.QUALITY_REASONS.not_a_radiograph)
  const message = {zh: '太暗了。', en: 'Too dark.'}
  expect(format.resultView(makeAnswer({id, probs: {normal: 1}, quality: {ok: false, reason: 'too_dark', message}})).refusal)
    .toEqual(message)
  expect(format.resultView(makeAnswer({id, probs: {normal: 1}, quality: {ok: false, reason: 'new_reason'}})).refusal.en)
    .toBe('This image cannot be analysed.')
})

test('every refusal reason of docs/API.md has plain words', () => {
  for (const reason of ['not_a_radiograph', 'not_skin', 'too_dark', 'too_bright', 'too_small', 'low_contrast', 'blank']) {
    expect(format.QUALITY_REASONS[reason].zh).toBeTruthy()
    expect(format.QUALITY_REASONS[reason].en).toBeTruthy()
  }
})

test('demo: the backend notice, or the plain default; disclaimer always present', () => {
  const answer = makeAnswer({id, probs: {normal: 0.9, viral: 0.1}})
  expect(format.resultView(answer).demoNotice).toEqual(answer.demo_notice)
  delete answer.demo_notice
  delete answer.disclaimer
  const view = format.resultView(answer)
  expect(view.demoNotice).toEqual(format.DEMO_NOTICE)
  expect(view.disclaimer.zh).toBe('本产品仅作辅助诊断使用，如有不适请及时就医')
})

test('a real model: the backend notice, else whom it was trained on, else "not clinically validated"', () => {
  const notice = {zh: '本模型的训练数据为儿童胸片，未经临床验证，须由医生阅片。', en: 'This model was trained on children. It has not been clinically validated: a doctor must read the image.'}
  const answer = {...makeAnswer({id, probs: {normal: 0.9, viral: 0.1}, demo: false}), notice}
  let view = format.resultView(answer)
  expect(view.demoNotice).toBeNull()
  expect(view.modelNotice).toEqual(notice)
  delete answer.notice
  answer.model = {...answer.model, trained_on: {zh: '1-5 岁儿童', en: 'children aged 1-5'}}
  view = format.resultView(answer)
  expect(view.modelNotice.zh).toBe('本模型的训练数据为1-5 岁儿童，未经临床验证，须由医生阅片。')
  expect(view.modelNotice.en).toMatch(/^This model was trained on children aged 1-5\. It has not been clinically validated/)
  delete answer.model.trained_on
  expect(format.resultView(answer).modelNotice.en).toMatch(/not been clinically validated/)
  // a demo model shows its demo notice only
  expect(format.resultView(makeAnswer({id, probs: {normal: 1}, demo: true})).modelNotice).toBeNull()
})

test('a model card says whom a real model was trained on', () => {
  const card = format.modelCard({name: 'pneumonia', version: '2.0.0', demo: false, trained_on: {zh: '儿童', en: 'children'}})
  expect(card.trainedOn).toEqual({zh: '儿童', en: 'children'})
  expect(format.modelCard({name: 'skin', demo: true}).trainedOn).toBeNull()
})

test('pending and failed records', () => {
  expect(format.resultView({id, status: 'pending', model: {name: 'skin'}}).state).toBe('pending')
  expect(format.resultView({id, status: 'failed', model: {name: 'skin'}}).state).toBe('failed')
  expect(format.resultView(null)).toEqual({state: 'empty'})
})

test('anonymous answers carry the heatmap as a data URL', () => {
  const answer = makeAnswer({id, probs: {normal: 1}})
  answer.heatmap = {data_url: 'data:image/png;base64,AAAA'}
  expect(format.resultView(answer).heatmapUrl).toBe('data:image/png;base64,AAAA')
})

test('warnings keep both languages and drop half-empty ones', () => {
  const quality = {ok: true, warnings: [{code: 'rotated', zh: '图片被旋转。', en: 'Rotated.'}, {code: 'x', en: 'only en'}]}
  expect(format.resultView(makeAnswer({id, probs: {normal: 1}, quality})).warnings)
    .toEqual([{code: 'rotated', zh: '图片被旋转。', en: 'Rotated.'}])
})

test('bars: sorted high to low, widths as percentages, clamped, first marked top', () => {
  const bars = format.bars([
    {label: 'a', p: 0.1}, {label: 'b', p: 0.7, label_zh: '乙', label_en: 'B'}, {label: 'c', p: 0.2}, {label: 'bad'},
  ])
  expect(bars.map((b) => b.label)).toEqual(['b', 'c', 'a'])
  expect(bars.map((b) => b.width)).toEqual(['70.0%', '20.0%', '10.0%'])
  expect(bars.map((b) => b.top)).toEqual([true, false, false])
  expect(bars[0]).toMatchObject({zh: '乙', en: 'B'})
  expect(format.bars([{label: 'x', p: 1.3}])[0].width).toBe('100.0%')
  expect(format.bars(undefined)).toEqual([])
})

test('percent and dateText', () => {
  expect(format.percent(0.9134)).toBe('91.3%')
  expect(format.percent(null)).toBeNull()
  expect(format.percent(NaN)).toBeNull()
  expect(format.dateText('nonsense')).toBe('')
  expect(format.dateText('2026-11-21T22:50:00Z')).toMatch(/^2026-11-2[12] \d\d:\d\d$/)
})

test('history items name each state in both languages', () => {
  expect(format.historyItem(makeAnswer({id, probs: {bacterial: 0.8, normal: 0.2}})))
    .toMatchObject({id, state: 'ok', zh: '细菌性肺炎', en: 'Bacterial pneumonia', confidence: '80%', demo: true})
  expect(format.historyItem({id, status: 'pending', model: {name: 'skin'}})).toMatchObject({zh: '分析中', en: 'Processing', confidence: null})
  expect(format.historyItem(makeAnswer({id, probs: {normal: 1}, quality: {ok: false, reason: 'blank'}})))
    .toMatchObject({state: 'refused', en: 'Image refused', confidence: null})
})

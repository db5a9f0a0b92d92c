/** @jest-environment jsdom */
// result-card: the answer in every state, as the user sees it (rendered by miniprogram-simulate).
const {simulate, stubWx, load, render, texts} = require('../helpers/simulate.js')
const {createFakeCloud, makeAnswer, makeId} = require('../helpers/fake-cloud.js')
const {createApi} = require('../../app/services/api.js')

let id
beforeAll(() => {
  stubWx()
  id = load('result-card')
})

const DISCLAIMER = '本产品仅作辅助诊断使用，如有不适请及时就医'
const rid = makeId(42)

function text(comp) {
  return comp.dom.textContent
}

test('upload → predict → render: what the service returns is what the card shows', async () => {
  const cloud = createFakeCloud()
  cloud.answer = {probs: {bacterial: 0.12, viral: 0.81, normal: 0.07}, demo: false}
  const api = createApi({wx: cloud.wx})
  const answer = await api.analyse({filePath: 'wxfile://tmp/x.jpg', ext: 'jpg', model: 'pneumonia'})
  const comp = render(id, {answer, imageSrc: 'wxfile://tmp/x.jpg'})
  expect(texts(comp, '.label__zh')).toEqual(['病毒性肺炎'])
  expect(texts(comp, '.label__en')).toEqual(['Viral pneumonia'])
  expect(texts(comp, '.confidence')).toEqual(['置信度 Confidence 81.0%'])
  expect(comp.querySelectorAll('.demo')).toHaveLength(0)
  expect(comp.querySelectorAll('.uncertain')).toHaveLength(0)
  expect(texts(comp, '.disclaimer__zh')).toEqual([DISCLAIMER])
  // a bar for every class, highest first
  const bars = comp.querySelector('.probs')
  expect(bars.dom.textContent).toMatch(/病毒性肺炎.*81\.0%.*细菌性肺炎.*12\.0%.*正常.*7\.0%/)
})

test('normal answer: heatmap over the image, and the toggle hides and shows it', async () => {
  const comp = render(id, {answer: makeAnswer({id: rid, probs: {normal: 0.88, viral: 0.12}})})
  expect(comp.data.view.heatmapUrl).toContain(`heatmaps/${rid}.png`)
  expect(comp.data.view.imageUrl).toContain(`images/${rid}.jpg`)
  expect(comp.querySelectorAll('.figure__image')).toHaveLength(1)
  expect(comp.querySelectorAll('.figure__heatmap')).toHaveLength(1)
  const toggle = comp.querySelector('.heatmap-switch')
  toggle.dispatchEvent('change', {detail: {value: false}})
  await simulate.sleep(0)
  expect(comp.querySelectorAll('.figure__heatmap')).toHaveLength(0)
  expect(comp.querySelectorAll('.figure__image')).toHaveLength(1)
  toggle.dispatchEvent('change', {detail: {value: true}})
  await simulate.sleep(0)
  expect(comp.querySelectorAll('.figure__heatmap')).toHaveLength(1)
})

test('uncertain: the label stays, with the plain-words reason', () => {
  const reason = {zh: '细菌性和病毒性的概率很接近。', en: 'Bacterial and viral are nearly tied.'}
  const answer = makeAnswer({id: rid, probs: {bacterial: 0.46, viral: 0.44, normal: 0.1}, uncertain: true, uncertainReason: reason})
  const comp = render(id, {answer})
  expect(texts(comp, '.uncertain__title')).toEqual(['结果不确定 · Uncertain'])
  expect(texts(comp, '.uncertain__zh')).toEqual([reason.zh])
  expect(texts(comp, '.uncertain__en')).toEqual([reason.en])
  expect(texts(comp, '.label__zh')).toEqual(['细菌性肺炎'])
  expect(texts(comp, '.disclaimer__zh')).toEqual([DISCLAIMER])
})

test('refused (quality.ok false): the reason, and no diagnosis, bars or heatmap', () => {
  const quality = {
    ok: false,
    reason: 'not_a_radiograph',
    message: {zh: '这不像一张胸片。', en: 'This does not look like a chest X-ray.'},
    warnings: [],
  }
  const answer = makeAnswer({id: rid, probs: {normal: 0.5, viral: 0.3, bacterial: 0.2}, quality})
  const comp = render(id, {answer, imageSrc: 'wxfile://tmp/cat.jpg'})
  expect(texts(comp, '.refused__zh')).toEqual(['这不像一张胸片。'])
  expect(texts(comp, '.refused__en')).toEqual(['This does not look like a chest X-ray.'])
  expect(comp.querySelectorAll('.label')).toHaveLength(0)
  expect(comp.querySelectorAll('.confidence')).toHaveLength(0)
  expect(comp.querySelectorAll('.probs')).toHaveLength(0)
  expect(comp.querySelectorAll('.figure__heatmap')).toHaveLength(0)
  expect(comp.querySelectorAll('.heatmap-switch')).toHaveLength(0)
  expect(text(comp)).not.toMatch(/正常|Normal/)
  expect(texts(comp, '.disclaimer__zh')).toEqual([DISCLAIMER])
})

test('demo model: the banner says so in both languages', () => {
  const answer = makeAnswer({id: rid, probs: {normal: 0.9, viral: 0.1}, demo: true})
  const comp = render(id, {answer})
  expect(texts(comp, '.demo__zh')).toEqual([answer.demo_notice.zh])
  expect(texts(comp, '.demo__en')).toEqual([answer.demo_notice.en])
  expect(text(comp)).toContain('pneumonia 1.0.0-demo')
})

test('quality warnings are listed in both languages', () => {
  const quality = {ok: true, reason: null, message: null, warnings: [{code: 'small', zh: '图片偏小。', en: 'The image is small.'}]}
  const comp = render(id, {answer: makeAnswer({id: rid, probs: {normal: 1}, quality})})
  expect(texts(comp, '.warning')).toEqual(['图片偏小。 · The image is small.'])
})

test('a pending record says it is processing; nothing renders without an answer', () => {
  let comp = render(id, {answer: {id: rid, status: 'pending', model: {name: 'skin'}}})
  expect(text(comp)).toContain('Processing')
  expect(comp.querySelectorAll('.label')).toHaveLength(0)
  comp = render(id, {answer: null})
  expect(comp.querySelectorAll('.card')).toHaveLength(0)
})

test('a new answer resets the heatmap toggle', async () => {
  const comp = render(id, {answer: makeAnswer({id: rid, probs: {normal: 1}})})
  comp.querySelector('.heatmap-switch').dispatchEvent('change', {detail: {value: false}})
  await simulate.sleep(0)
  expect(comp.data.showHeatmap).toBe(false)
  comp.setData({answer: makeAnswer({id: makeId(43), probs: {viral: 1}})})
  await simulate.sleep(0)
  expect(comp.data.showHeatmap).toBe(true)
})

/** @jest-environment jsdom */
// prob-bars: one bar per class, highest first, widths from the probabilities.
const {simulate, stubWx, load, render, texts} = require('../helpers/simulate.js')

let id
beforeAll(() => {
  stubWx()
  id = load('prob-bars')
})

const items = [
  {label: 'normal', label_zh: '正常', label_en: 'Normal', p: 0.05},
  {label: 'viral', label_zh: '病毒性肺炎', label_en: 'Viral pneumonia', p: 0.7},
  {label: 'bacterial', label_zh: '细菌性肺炎', label_en: 'Bacterial pneumonia', p: 0.25},
]

test('bars are sorted high to low with both languages and percentages', () => {
  const comp = render(id, {items})
  expect(texts(comp, '.bar__zh')).toEqual(['病毒性肺炎', '细菌性肺炎', '正常'])
  expect(texts(comp, '.bar__en')).toEqual(['Viral pneumonia', 'Bacterial pneumonia', 'Normal'])
  expect(texts(comp, '.bar__pct')).toEqual(['70.0%', '25.0%', '5.0%'])
})

test('fill widths match the probabilities and only the top bar is highlighted', () => {
  const comp = render(id, {items})
  const fills = comp.querySelectorAll('.bar__fill').map((n) => n.dom.getAttribute('style'))
  expect(fills).toEqual(['width: 70.0%', 'width: 25.0%', 'width: 5.0%'])
  const bars = comp.querySelectorAll('.bar')
  expect(bars.map((n) => n.dom.className.includes('bar--top'))).toEqual([true, false, false])
})

test('new items re-render; no items render nothing', async () => {
  const comp = render(id, {items})
  comp.setData({items: [{label: 'x', p: 0.4}, {label: 'y', p: 0.6}]})
  await simulate.sleep(0)
  expect(texts(comp, '.bar__zh')).toEqual(['y', 'x'])
  comp.setData({items: []})
  await simulate.sleep(0)
  expect(comp.querySelectorAll('.bar')).toHaveLength(0)
})

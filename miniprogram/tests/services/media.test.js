// services/media.js: wx.chooseMedia (tempFiles is an array) and bundled samples.
const media = require('../../app/services/media.js')

function fakeWx({choose, readFile, writeFile} = {}) {
  const calls = {choose: [], read: [], write: []}
  const wx = {
    env: {USER_DATA_PATH: 'wxfile://usr'},
    chooseMedia: (opts) => {
      calls.choose.push(opts)
      choose(opts)
    },
    getFileSystemManager: () => ({
      readFile: (opts) => {
        calls.read.push(opts)
        ;(readFile || ((o) => o.success({data: new ArrayBuffer(4)})))(opts)
      },
      writeFile: (opts) => {
        calls.write.push(opts)
        ;(writeFile || ((o) => o.success({})))(opts)
      },
    }),
  }
  return {wx, calls}
}

test('asks for one image from the album or the camera and reads tempFiles[0]', async () => {
  const {wx, calls} = fakeWx({
    choose: (o) => o.success({type: 'image', tempFiles: [{tempFilePath: 'wxfile://tmp/abc.JPEG', size: 2048, fileType: 'image'}]}),
  })
  const file = await media.chooseImage({wx})
  expect(file).toEqual({filePath: 'wxfile://tmp/abc.JPEG', ext: 'jpg', size: 2048})
  expect(calls.choose[0]).toMatchObject({count: 1, mediaType: ['image'], sourceType: ['album', 'camera']})
})

test('cancelling resolves null; an empty list resolves null', async () => {
  let {wx} = fakeWx({choose: (o) => o.fail({errMsg: 'chooseMedia:fail cancel'})})
  expect(await media.chooseImage({wx})).toBeNull()
  ;({wx} = fakeWx({choose: (o) => o.success({tempFiles: []})}))
  expect(await media.chooseImage({wx})).toBeNull()
})

test('a file over the limit is payload_too_large before any upload', async () => {
  const {wx} = fakeWx({choose: (o) => o.success({tempFiles: [{tempFilePath: 'wxfile://tmp/big.png', size: 11}]})})
  await expect(media.chooseImage({wx, maxBytes: 10})).rejects.toMatchObject({code: 'payload_too_large'})
})

test('a refused permission is choose_failed, with a retry', async () => {
  const {wx} = fakeWx({choose: (o) => o.fail({errMsg: 'chooseMedia:fail auth deny'})})
  await expect(media.chooseImage({wx})).rejects.toMatchObject({code: 'choose_failed', retryable: true})
})

test('a path without extension defaults to jpg', async () => {
  const {wx} = fakeWx({choose: (o) => o.success({tempFiles: [{tempFilePath: 'http://tmp/noext', size: 1}]})})
  expect((await media.chooseImage({wx})).ext).toBe('jpg')
})

test('a sample is copied from the package to the user data folder', async () => {
  const {wx, calls} = fakeWx()
  const file = await media.sampleFile('/images/samples/xray-normal.png', {wx})
  expect(file).toEqual({filePath: 'wxfile://usr/sample-xray-normal.png', ext: 'png'})
  expect(calls.read[0].filePath).toBe('/images/samples/xray-normal.png')
  expect(calls.write[0].filePath).toBe('wxfile://usr/sample-xray-normal.png')
  expect(calls.write[0].data).toBeInstanceOf(ArrayBuffer)
})

test('an unreadable or unwritable sample is file_unreadable', async () => {
  let {wx} = fakeWx({readFile: (o) => o.fail({errMsg: 'readFile:fail no such file'})})
  await expect(media.sampleFile('/images/samples/x.png', {wx})).rejects.toMatchObject({code: 'file_unreadable'})
  ;({wx} = fakeWx({writeFile: (o) => o.fail({errMsg: 'writeFile:fail the maximum size'})}))
  await expect(media.sampleFile('/images/samples/x.png', {wx})).rejects.toMatchObject({code: 'file_unreadable'})
})

test('extOf', () => {
  expect(media.extOf('a/b/c.PNG')).toBe('png')
  expect(media.extOf('x.jpeg?x=1')).toBe('jpg')
  expect(media.extOf('noext')).toBe('')
})

describe('prepareImage: photos downscaled before upload', () => {
  function imageWx(info, {compress = true} = {}) {
    const calls = {info: [], compress: []}
    const wx = {
      getImageInfo: (o) => {
        calls.info.push(o)
        o.success(info)
      },
    }
    if (compress) {
      wx.compressImage = (o) => {
        calls.compress.push(o)
        o.success({tempFilePath: 'wxfile://tmp/small.jpg'})
      }
    }
    return {wx, calls}
  }

  test('a 12 MP photo turned on its side is compressed to 2048 px on its upright long side', async () => {
    const {wx, calls} = imageWx({width: 4000, height: 3000, orientation: 'right', type: 'jpeg'})
    const out = await media.prepareImage({filePath: 'wxfile://tmp/big.jpg', ext: 'jpg'}, {wx})
    expect(out).toEqual({filePath: 'wxfile://tmp/small.jpg', ext: 'jpg', prepared: true})
    // upright it is 3000 × 4000 (portrait): the height is the long side
    expect(calls.compress[0]).toMatchObject({src: 'wxfile://tmp/big.jpg', compressedHeight: 2048, quality: 85})
    expect(calls.compress[0].compressedWidth).toBeUndefined()
  })

  test('a landscape PNG is compressed by its width', async () => {
    const {wx, calls} = imageWx({width: 3000, height: 1000, orientation: 'up', type: 'png'})
    await media.prepareImage({filePath: 'wxfile://tmp/wide.png', ext: 'png'}, {wx})
    expect(calls.compress[0]).toMatchObject({compressedWidth: 2048})
  })

  test('a small upright JPEG, a DICOM, or no compressImage: the file goes as chosen', async () => {
    const small = imageWx({width: 1200, height: 900, orientation: 'up', type: 'jpeg'})
    expect(await media.prepareImage({filePath: 'wxfile://s.jpg', ext: 'jpg'}, {wx: small.wx})).toEqual(
      {filePath: 'wxfile://s.jpg', ext: 'jpg', prepared: false})
    expect(small.calls.compress).toEqual([])
    const dicom = imageWx({})
    expect((await media.prepareImage({filePath: 'wxfile://a.dcm', ext: 'dcm'}, {wx: dicom.wx})).prepared).toBe(false)
    expect(dicom.calls.info).toEqual([])
    const old = imageWx({width: 4000, height: 3000}, {compress: false})
    expect((await media.prepareImage({filePath: 'wxfile://o.jpg', ext: 'jpg'}, {wx: old.wx})).prepared).toBe(false)
  })

  test('fitted keeps the aspect', () => {
    expect(media.fitted(4000, 3000)).toEqual({width: 2048, height: 1536})
    expect(media.fitted(1000, 500)).toEqual({width: 1000, height: 500})
  })
})

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

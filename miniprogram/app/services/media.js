// Local media: choosing an image (album or camera) and turning a bundled sample into a file that can
// be uploaded. No backend calls here (those live in services/api.js only).

const config = require('../config.js')
const errors = require('./errors.js')

// eslint-disable-next-line no-undef
const getWx = (override) => override || wx

/** The extension of a local path, lower-case, 'jpeg' → 'jpg' ('' when there is none). */
function extOf(path) {
  const match = /\.([A-Za-z0-9]+)$/.exec(String(path || '').split('?')[0])
  return match ? match[1].toLowerCase().replace('jpeg', 'jpg') : ''
}

function isCancel(err) {
  return /cancel/i.test(String((err && err.errMsg) || err || ''))
}

/**
 * Let the user pick one image. Resolves {filePath, ext, size}, or null when they cancel.
 * A file over the backend's size limit is refused here, before any upload.
 */
function chooseImage({wx: wxOverride, maxBytes = config.limits.maxImageBytes} = {}) {
  return new Promise((resolve, reject) => {
    getWx(wxOverride).chooseMedia({
      count: 1,
      mediaType: ['image'],
      sourceType: ['album', 'camera'],
      sizeType: ['original', 'compressed'],
      success(res) {
        // tempFiles is an array, even for count: 1.
        const file = res && Array.isArray(res.tempFiles) ? res.tempFiles[0] : null
        if (!file || !file.tempFilePath) return resolve(null)
        if (file.size > maxBytes) return reject(errors.makeError('payload_too_large'))
        resolve({filePath: file.tempFilePath, ext: extOf(file.tempFilePath) || 'jpg', size: file.size || 0})
      },
      fail(err) {
        if (isCancel(err)) resolve(null)
        else reject(errors.makeError('choose_failed', {cause: err && err.errMsg}))
      },
    })
  })
}

/**
 * Turn a bundled sample (a code-package path such as /images/samples/x.png) into a file in the user
 * data folder, so it takes exactly the path of a chosen photo (wx.cloud.uploadFile wants a local file
 * path; code-package files are read with readFile from the project root). Resolves {filePath, ext}.
 */
function sampleFile(packagePath, {wx: wxOverride} = {}) {
  const api = getWx(wxOverride)
  const fs = api.getFileSystemManager()
  const name = String(packagePath).split('/').pop()
  const destPath = `${api.env.USER_DATA_PATH}/sample-${name}`
  const unreadable = (err) => errors.makeError('file_unreadable', {cause: err && err.errMsg})
  return new Promise((resolve, reject) => {
    fs.readFile({
      filePath: packagePath,
      success: ({data}) => fs.writeFile({
        filePath: destPath,
        data,
        success: () => resolve({filePath: destPath, ext: extOf(packagePath)}),
        fail: (err) => reject(unreadable(err)),
      }),
      fail: (err) => reject(unreadable(err)),
    })
  })
}

/** The size a w×h image is drawn at: the long side at most maxSide, the aspect kept. */
function fitted(width, height, maxSide = config.limits.maxSide) {
  const scale = Math.min(1, maxSide / Math.max(width, height))
  return {width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale))}
}

// wx.getImageInfo orientations that swap width and height once applied.
const TURNED = ['left', 'right', 'left-mirrored', 'right-mirrored']

/**
 * Before upload: a photo becomes a JPEG of at most limits.maxSide px on its long side
 * (wx.compressImage with compressedWidth/compressedHeight, base library >= 2.26.0), so a 12 MP photo
 * goes up a weak link in seconds. A file that is not a photo (DICOM), a small upright JPEG, or a base
 * library without compressImage goes as chosen; the server applies any EXIF orientation and strips
 * metadata from what it stores either way. Resolves {filePath, ext, prepared}.
 */
function prepareImage(file, {wx: wxOverride} = {}) {
  const api = getWx(wxOverride)
  const asIs = {filePath: file.filePath, ext: file.ext, prepared: false}
  if (!['jpg', 'png', 'webp', 'bmp'].includes(file.ext) || typeof api.compressImage !== 'function') {
    return Promise.resolve(asIs)
  }
  return new Promise((resolve) => {
    api.getImageInfo({
      src: file.filePath,
      success(info) {
        const turned = TURNED.includes(info.orientation)
        const upright = turned ? {width: info.height, height: info.width} : {width: info.width, height: info.height}
        const small = Math.max(upright.width, upright.height) <= config.limits.maxSide
        if (small && file.ext === 'jpg' && (!info.orientation || info.orientation === 'up')) return resolve(asIs)
        const size = fitted(upright.width, upright.height)
        const landscape = size.width >= size.height
        api.compressImage({
          src: file.filePath,
          quality: config.limits.jpegQuality,
          // One side is given, the other follows the aspect (the docs: 等比缩放).
          ...(landscape ? {compressedWidth: size.width} : {compressedHeight: size.height}),
          success: (res) => resolve({filePath: res.tempFilePath, ext: 'jpg', prepared: true}),
          fail: () => resolve(asIs), // the original still works, only slower
        })
      },
      fail: () => resolve(asIs),
    })
  })
}

module.exports = {chooseImage, sampleFile, extOf, prepareImage, fitted}

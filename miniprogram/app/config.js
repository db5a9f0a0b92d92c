// The ONE place for environment settings, backend names and limits. Pages and services import it;
// nothing else repeats these literals (tests/project.test.js checks that function names appear only here).

module.exports = {
  // CloudBase environment id: REQUIRED (cloud console → 环境 ID, e.g. 'xiaofei-prod-1a2b3c').
  // wx.cloud.DYNAMIC_CURRENT_ENV is a constant for cloud functions, not for the client: with no envId
  // the app makes no cloud call and says why (error env_missing). docs/DEPLOY.md "Mini program".
  envId: '',

  // Cloud function names, as deployed by infra/ (docs/API.md "Cloud calls").
  functions: {
    predict: 'predict',
    history: 'history',
  },

  // Served models (the backend validates the name; unknown → bad_request).
  models: [
    {name: 'pneumonia', zh: '胸片', en: 'Chest X-ray'},
    {name: 'skin', zh: '皮肤', en: 'Skin photo'},
  ],
  defaultModel: 'pneumonia',

  // Bundled sample images (copied from model/samples/); `model` picks the model to run on them. Only the
  // skin demo has samples: the chest model reads real films, real films may not be shipped, and a drawn
  // film offered as a "sample chest X-ray" would pass off a meaningless answer as a reading.
  samples: [
    {path: '/images/samples/skin-psoriasis-1.jpg', model: 'skin', zh: '合成示例：银屑病', en: 'Synthetic sample: psoriasis'},
    {path: '/images/samples/skin-basal_cell_carcinoma-1.jpg', model: 'skin', zh: '合成示例：基底细胞癌', en: 'Synthetic sample: basal cell carcinoma'},
  ],

  limits: {
    callTimeoutMs: 15000, // history list/get/delete and the upload-path request
    predictTimeoutMs: 30000, // a cold start loads the ONNX model
    uploadTimeoutMs: 60000,
    maxImageBytes: 10000000, // XIAOFEI_MAX_BODY_BYTES on the backend (uploads)
    maxSide: 2048, // photos are downscaled to this long side before upload (services/media.js)
    jpegQuality: 85, // wx.compressImage quality (0-100)
    retries: 2, // automatic retries of a failed upload or predict, with the same request id
    historyPageSize: 20, // the backend accepts 1..50
    pollTries: 20, // async path: at most this many `history get` calls…
    pollIntervalMs: 1500, // …this far apart
  },

  // Retention defaults of the backend (XIAOFEI_UPLOAD_RETENTION_DAYS / XIAOFEI_RETENTION_DAYS), shown on About.
  retention: {
    uploadDays: 1,
    resultDays: 30,
  },

  // Image types the backend reads; the extension only names the upload key (the backend sniffs the bytes).
  imageExts: ['jpg', 'png', 'webp', 'bmp', 'dcm'],
}

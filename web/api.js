// The only module that talks to the backend. It mirrors the mini program's services/api.js: the same
// call names (predict, listHistory, getRecord, deleteRecord, deleteAll, listModels) and the same error
// codes (docs/API.md, plus the client-side network_error, timeout, bad_response; aborted is never shown).
//
// Every call either resolves with the response body or rejects with an ApiError; every call has a
// timeout, so no caller can be left waiting forever.

const CONFIG = window.XIAOFEI_CONFIG || {};
const API_BASE = String(CONFIG.apiBase || "").replace(/\/+$/, "");
const REQUEST_TIMEOUT_MS = CONFIG.requestTimeoutMs || 20000;
const PREDICT_TIMEOUT_MS = CONFIG.predictTimeoutMs || 120000;
const SESSION_KEY = "xiaofei.session";

export const MAX_UPLOAD_BYTES = CONFIG.maxUploadBytes || 10000000;
// The largest image sent inside a request: its base64 must fit SCF's 6 MB synchronous event
// (xiaofei/limits.py DIRECT_MAX_BYTES). Anything bigger goes through POST /uploads and a presigned PUT.
export const DIRECT_MAX_BYTES = CONFIG.directMaxBytes || 4451848;
// "legacy": the page's old path (every file posted as chosen, straight to /predict); benchmarks only.
const CLIENT_PATH = CONFIG.clientPath || "";
export const CLIENT_LEGACY = CLIENT_PATH === "legacy";
const RETRIES = 2; // automatic retries of a failed send, with the same request id

export const ENDPOINTS = Object.freeze({
  session: "/session",
  predict: "/predict",
  uploads: "/uploads",
  history: "/history",
  models: "/models",
  samples: "/samples",
  healthz: "/healthz",
});

// Codes worth a "retry" button: the same request may well succeed a moment later.
const RETRYABLE = new Set([
  "network_error", "timeout", "bad_response", "internal_error", "conflict",
  "unavailable", "model_unavailable", "storage_unavailable", "invalid_manifest", "unknown_error", "rollout_failed",
]);

export class ApiError extends Error {
  constructor({code, status = 0, message = null, requestId = "", details = null}) {
    super(code);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.serverMessage = message; // {en, zh} from the server, when it sent one
    this.requestId = requestId;
    this.details = details;
  }

  get retryable() {
    return RETRYABLE.has(this.code);
  }
}

/** Anything thrown (a bug included) as an ApiError, so the page can always show a message. */
export function normalize(err) {
  return err instanceof ApiError ? err : new ApiError({code: "unknown_error"});
}

export function url(path) {
  return API_BASE + path;
}

// ---- the anonymous browser session (a bearer token kept in localStorage) ----

// expires_at as epoch seconds (what the server sends) or an ISO date; NaN when unknown.
function expiryMs(value) {
  if (typeof value === "number") return value * 1000;
  return Date.parse(value || "");
}

function readSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    if (!saved || typeof saved.token !== "string") return null;
    const expires = expiryMs(saved.expires_at);
    // Renew a minute early rather than send a token that expires in flight.
    if (Number.isFinite(expires) && expires - 60000 < Date.now()) return null;
    return saved;
  } catch {
    return null;
  }
}

export function forgetSession() {
  try {
    localStorage.removeItem(SESSION_KEY);
  } catch {
    // Storage may be disabled (private mode): the session then lives only in memory.
  }
  memorySession = null;
}

let memorySession = null;
let pendingSession = null;

async function token() {
  const saved = memorySession || readSession();
  if (saved) return saved.token;
  // One request for concurrent callers.
  pendingSession ??= request("POST", ENDPOINTS.session, {auth: false}).then((body) => {
    if (!body || typeof body.token !== "string") throw new ApiError({code: "bad_response", status: 200});
    memorySession = {token: body.token, expires_at: body.expires_at};
    try {
      localStorage.setItem(SESSION_KEY, JSON.stringify(memorySession));
    } catch {
      // See forgetSession.
    }
    return body.token;
  }).finally(() => {
    pendingSession = null;
  });
  return pendingSession;
}

// ---- transport ----

function errorFrom(status, body, requestId) {
  const err = body && typeof body === "object" ? body.error : null;
  if (err && typeof err.code === "string") {
    return new ApiError({
      code: err.code, status: err.status || status, message: err.message || null,
      requestId: err.request_id || requestId, details: err.details || null,
    });
  }
  return new ApiError({code: status >= 500 ? "unavailable" : "bad_response", status, requestId});
}

function parseJson(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return undefined;
  }
}

async function request(method, path, {body, auth = true, renew = true, timeoutMs = REQUEST_TIMEOUT_MS} = {}) {
  const headers = {Accept: "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) headers.Authorization = `Bearer ${await token()}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let res;
  let text;
  try {
    res = await fetch(url(path), {
      method, headers, signal: controller.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    text = await res.text();
  } catch (e) {
    throw new ApiError({code: controller.signal.aborted ? "timeout" : "network_error"});
  } finally {
    clearTimeout(timer);
  }
  const parsed = parseJson(text);
  if (res.status === 401 && auth && renew) {
    forgetSession(); // expired or from an older server secret: get a fresh session, once
    return request(method, path, {body, auth, renew: false, timeoutMs});
  }
  if (!res.ok) throw errorFrom(res.status, parsed, res.headers.get("X-Request-Id") || "");
  if (parsed === undefined) throw new ApiError({code: "bad_response", status: res.status});
  return parsed;
}

// One XMLHttpRequest with upload progress (fetch cannot report it): {status, body, requestId}.
function sendXhr(method, target, body, headers, {onProgress, onUploaded, signal, timeoutMs = PREDICT_TIMEOUT_MS}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, target);
    xhr.timeout = timeoutMs;
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    };
    xhr.upload.onload = () => onUploaded && onUploaded();
    xhr.onload = () => resolve({status: xhr.status, body: parseJson(xhr.responseText),
      requestId: xhr.getResponseHeader("X-Request-Id") || ""});
    xhr.onerror = () => reject(new ApiError({code: "network_error"}));
    xhr.ontimeout = () => reject(new ApiError({code: "timeout"}));
    xhr.onabort = () => reject(new ApiError({code: "aborted"}));
    if (signal) {
      if (signal.aborted) return xhr.abort();
      signal.addEventListener("abort", () => xhr.abort(), {once: true});
    }
    xhr.send(body);
  });
}

// POST /predict as multipart (the image inside the request).
function sendPredict(file, model, bearer, requestId, options) {
  const form = new FormData();
  form.append("model", model);
  form.append("image", file, file.name || "image");
  const headers = {Accept: "application/json", Authorization: `Bearer ${bearer}`};
  if (requestId) headers["X-Request-Id"] = requestId;
  return sendXhr("POST", url(ENDPOINTS.predict), form, headers, options);
}

function checked(res) {
  if (res.status < 200 || res.status >= 300) throw errorFrom(res.status, res.body, res.requestId);
  if (!res.body || typeof res.body !== "object") throw new ApiError({code: "bad_response", status: res.status});
  return res.body;
}

function newRequestId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * What one chosen image needs across retries: its request id (the server makes one record per id, however
 * often it is sent) and, on the upload path, the upload it was given and whether the PUT went through.
 */
export function newJob() {
  return {requestId: newRequestId(), upload: null, uploaded: false};
}

const EXTS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/bmp": "bmp", "application/dicom": "dcm"};

function extOf(file) {
  const byType = EXTS[file.type || ""];
  if (byType) return byType;
  const m = /\.([A-Za-z0-9]+)$/.exec(file.name || "");
  const ext = m ? m[1].toLowerCase().replace("jpeg", "jpg") : "";
  return Object.values(EXTS).includes(ext) ? ext : "jpg";
}

// The upload path: POST /uploads (same request id → same upload), PUT to the presigned URL with
// progress, then POST /predict {key}: the answer at once (the COS trigger then finds it done).
async function predictViaUpload(file, model, job, {onProgress, onUploaded, signal}) {
  const expired = job.upload && job.upload.expires_at && job.upload.expires_at * 1000 - 30000 < Date.now();
  if (!job.upload || (expired && !job.uploaded)) {
    job.upload = await request("POST", ENDPOINTS.uploads, {body: {ext: extOf(file), model, request_id: job.requestId}});
    if (!job.upload || typeof job.upload.url !== "string") throw new ApiError({code: "bad_response", status: 200});
  }
  if (!job.uploaded) {
    const up = job.upload;
    const res = await sendXhr(up.method || "PUT", up.url, file, up.headers || {}, {onProgress, signal});
    if (res.status < 200 || res.status >= 300) throw errorFrom(res.status, res.body, res.requestId);
    job.uploaded = true;
  }
  if (onUploaded) onUploaded();
  const rec = await request("POST", ENDPOINTS.predict, {
    body: {key: job.upload.key, model, request_id: job.requestId}, timeoutMs: PREDICT_TIMEOUT_MS,
  });
  return rec.status === "pending" ? pollRecord(rec.id || job.upload.id, signal) : rec;
}

async function pollRecord(id, signal, tries = 40, intervalMs = 1500) {
  for (let i = 0; i < tries; i++) {
    if (signal && signal.aborted) throw new ApiError({code: "aborted"});
    const rec = await getRecord(id);
    if (rec.status === "failed") throw errorFrom(rec.error ? rec.error.status : 500, rec, "");
    if (rec.status !== "pending") return rec;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new ApiError({code: "timeout"});
}

async function predictDirect(file, model, job, options) {
  for (let attempt = 0; ; attempt++) {
    const res = await sendPredict(file, model, await token(), job.requestId, options);
    if (res.status === 401 && attempt === 0) {
      forgetSession();
      continue;
    }
    return checked(res);
  }
}

// ---- endpoints ----

/**
 * Send an image and get the answer (docs/API.md "A prediction"). Up to DIRECT_MAX_BYTES it goes inside
 * the request, above it through the upload path. `job` (newJob()) carries the request id across
 * retries, so neither a lost answer nor the retry button can make two records; a failed send is
 * retried here twice first.
 */
export async function predict(file, model, {onProgress, onUploaded, signal, job = newJob(), sleep} = {}) {
  if (!file || file.size === 0) throw new ApiError({code: "empty_image"});
  if (file.size > MAX_UPLOAD_BYTES) throw new ApiError({code: "payload_too_large"});
  const options = {onProgress, onUploaded, signal};
  if (CLIENT_PATH === "legacy") return predictDirect(file, model, {requestId: ""}, options);
  const wait = sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      if (file.size <= DIRECT_MAX_BYTES && !job.viaUpload) {
        try {
          return await predictDirect(file, model, job, options);
        } catch (caught) {
          // A server with a smaller inline limit than this page's: the upload path takes any size.
          if (!(caught instanceof ApiError && caught.code === "payload_too_large")) throw caught;
          job.viaUpload = true;
        }
      }
      return await predictViaUpload(file, model, job, options);
    } catch (caught) {
      const err = normalize(caught);
      if (!err.retryable || attempt >= RETRIES || (signal && signal.aborted)) throw err;
      await wait(500 * 2 ** attempt);
    }
  }
}

/** One page of the caller's history, newest first: {items, next_cursor}. */
export function listHistory(cursor = null, limit = 10) {
  const q = new URLSearchParams({limit: String(limit)});
  if (cursor) q.set("cursor", cursor);
  return request("GET", `${ENDPOINTS.history}?${q}`);
}

/** One record, with fresh short-lived image and heatmap URLs. */
export function getRecord(id) {
  return request("GET", `${ENDPOINTS.history}/${encodeURIComponent(id)}`);
}

export function deleteRecord(id) {
  return request("DELETE", `${ENDPOINTS.history}/${encodeURIComponent(id)}`);
}

export function deleteAll() {
  return request("DELETE", ENDPOINTS.history);
}

/** The served models and their cards: {models: [...], default}. */
export function listModels() {
  return request("GET", ENDPOINTS.models, {auth: false});
}

/** Bundled sample images (local server only): {samples: [{file, model, label}]}. */
export function listSamples() {
  return request("GET", ENDPOINTS.samples, {auth: false});
}

export function sampleUrl(file) {
  return url(`${ENDPOINTS.samples}/${encodeURIComponent(file)}`);
}

/** A sample image as a File, so it goes through the same upload path as the user's own. */
export async function sampleFile(file) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(sampleUrl(file), {signal: controller.signal});
    if (!res.ok) throw new ApiError({code: res.status === 404 ? "not_found" : "bad_response", status: res.status});
    const blob = await res.blob();
    return new File([blob], file, {type: blob.type || "application/octet-stream"});
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError({code: controller.signal.aborted ? "timeout" : "network_error"});
  } finally {
    clearTimeout(timer);
  }
}

/** An authenticated JSON call with this browser's session (share links, consent: web/review.js). */
export function call(method, path, body) {
  return request(method, path, {body});
}

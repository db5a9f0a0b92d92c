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

export const ENDPOINTS = Object.freeze({
  session: "/session",
  predict: "/predict",
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

// POST /predict as multipart, with upload progress (fetch cannot report it, XMLHttpRequest can).
function sendPredict(file, model, bearer, {onProgress, onUploaded, signal}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url(ENDPOINTS.predict));
    xhr.timeout = PREDICT_TIMEOUT_MS;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Authorization", `Bearer ${bearer}`);
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
    const form = new FormData();
    form.append("model", model);
    form.append("image", file, file.name || "image");
    xhr.send(form);
  });
}

// ---- endpoints ----

/** Send an image and get the answer (docs/API.md "A prediction"). */
export async function predict(file, model, {onProgress, onUploaded, signal} = {}) {
  if (!file || file.size === 0) throw new ApiError({code: "empty_image"});
  if (file.size > MAX_UPLOAD_BYTES) throw new ApiError({code: "payload_too_large"});
  for (let attempt = 0; ; attempt++) {
    const res = await sendPredict(file, model, await token(), {onProgress, onUploaded, signal});
    if (res.status === 401 && attempt === 0) {
      forgetSession();
      continue;
    }
    if (res.status < 200 || res.status >= 300) throw errorFrom(res.status, res.body, res.requestId);
    if (!res.body || typeof res.body !== "object") throw new ApiError({code: "bad_response", status: res.status});
    return res.body;
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

// Deployment settings for the web page. A deploy may replace this one file, e.g. to point the page at
// the HTTP trigger: window.XIAOFEI_CONFIG = {apiBase: "https://service-xxx.gz.apigw.tencentcs.com/release"}.
// Empty apiBase means the same origin as the page (the local server, `xiaofei serve`).
// Optional keys (defaults in api.js / app.js): historyPageSize, requestTimeoutMs, predictTimeoutMs,
// maxUploadBytes, directMaxBytes (4451848: larger images go through POST /uploads), clientPath ("legacy":
// the old path without downscaling or uploads, for the benchmark only).
window.XIAOFEI_CONFIG = {apiBase: ""};

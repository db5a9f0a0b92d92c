// Before an image leaves the browser: a photo becomes a JPEG of at most MAX_SIDE px on its long side,
// upright (EXIF orientation applied by the decoder), with no metadata at all (a canvas has none: no
// EXIF, no GPS, no camera, no comment). A 12 MP phone photo of 4 MB becomes a few hundred KB, which
// goes up a weak link in seconds and fits in one request (api.js DIRECT_MAX_BYTES). What the browser
// cannot decode (DICOM, HEIC…) goes as it is: the server reads it or says why not.

export const MAX_SIDE = 2048;
export const JPEG_QUALITY = 0.9;
const RASTER = /^image\/(jpeg|png|webp|bmp)$/;

function baseName(name) {
  return String(name || "image").replace(/\.[^.]*$/, "") || "image";
}

async function decode(file) {
  // imageOrientation "from-image" applies the EXIF orientation (Chromium's default too, said explicitly).
  return createImageBitmap(file, {imageOrientation: "from-image"});
}

function canvasOf(width, height) {
  if (typeof OffscreenCanvas === "function") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

function encode(canvas, quality) {
  if (typeof canvas.convertToBlob === "function") return canvas.convertToBlob({type: "image/jpeg", quality});
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("toBlob failed"))), "image/jpeg", quality);
  });
}

/** The size a w×h image is drawn at: the long side at most maxSide, the aspect kept. */
export function fitted(width, height, maxSide = MAX_SIDE) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return {width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale))};
}

/**
 * The file to send for `file`: {file, prepared: true, width, height} when it was re-encoded, or
 * {file, prepared: false} when it goes as chosen (not a raster image, or the browser cannot read it).
 */
export async function prepareImage(file, {maxSide = MAX_SIDE, quality = JPEG_QUALITY} = {}) {
  if (!file || !RASTER.test(file.type || "")) return {file, prepared: false};
  let bitmap;
  try {
    bitmap = await decode(file);
  } catch {
    return {file, prepared: false}; // let the server say what is wrong with it
  }
  try {
    const size = fitted(bitmap.width, bitmap.height, maxSide);
    const canvas = canvasOf(size.width, size.height);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, 0, 0, size.width, size.height);
    const blob = await encode(canvas, quality);
    const out = new File([blob], `${baseName(file.name)}.jpg`, {type: "image/jpeg"});
    return {file: out, prepared: true, width: size.width, height: size.height};
  } finally {
    bitmap.close();
  }
}

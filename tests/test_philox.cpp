// Philox4x32-10 against the Random123 known-answer vectors (kat_vectors,
// "philox4x32 10" lines: counter[4] key[2] → output[4]), plus the
// (seed, step, stream) keying and the uniform/normal transforms.
#include <gtest/gtest.h>

#include <cmath>

#include "platform/philox.h"

using namespace gantry;

TEST(Philox, KnownAnswerVectors) {
  struct Kat {
    Philox4 ctr;
    uint32_t k0, k1;
    Philox4 expect;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& k : kats) {
    const Philox4 out = philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(out.v[i], k.expect.v[i]) << "word " << i << " for counter " << std::hex << k.ctr.v[0] << " key "
                                         << k.k0;
  }
}

TEST(Philox, KeyedBySeedStepStream) {
  // The counter layout is documented in philox.h: {block, stream, step lo, step hi}, key {seed lo, seed hi}.
  const Philox4 direct = philox4x32_10(Philox4{{7, 3, 0x89abcdef, 0x01234567}}, 0xdeadbeef, 0x00c0ffee);
  const Philox4 keyed = philox_block(0x00c0ffeedeadbeefull, 0x0123456789abcdefull, 3, 7);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(direct.v[i], keyed.v[i]);
  EXPECT_NE(philox_uniform(1, 0, 0, 0), philox_uniform(1, 1, 0, 0));
  EXPECT_NE(philox_uniform(1, 0, 0, 0), philox_uniform(1, 0, 1, 0));
  EXPECT_NE(philox_uniform(1, 0, 0, 0), philox_uniform(2, 0, 0, 0));
}

TEST(Philox, UniformIsTopBitsOfEachWord) {
  const Philox4 b = philox_block(42, 5, 2, 1);  // elements 4..7
  for (uint32_t i = 0; i < 4; ++i) {
    const float u = philox_uniform(42, 5, 2, 4 + i);
    EXPECT_EQ(u, float(b.v[i] >> 8) / 16777216.0f);
    EXPECT_GE(u, 0.0f);
    EXPECT_LT(u, 1.0f);
  }
}

TEST(Philox, NormalIsBoxMullerOfWordPairs) {
  const Philox4 b = philox_block(9, 1, 4, 0);
  const float u1 = float((b.v[0] >> 8) + 1) / 16777216.0f, u2 = float(b.v[1] >> 8) / 16777216.0f;
  const float r = std::sqrt(-2.0f * std::log(u1));
  EXPECT_FLOAT_EQ(philox_normal(9, 1, 4, 0), r * std::cos(6.28318530717958647692f * u2));
  EXPECT_FLOAT_EQ(philox_normal(9, 1, 4, 1), r * std::sin(6.28318530717958647692f * u2));
}

TEST(Philox, MomentsOfManyDraws) {
  // 2^18 draws: the standard error of the mean is 0.002, of the variance ≈ 0.003.
  const uint32_t n = 1u << 18;
  double su = 0, sn = 0, snn = 0;
  for (uint32_t i = 0; i < n; ++i) {
    su += philox_uniform(123, 7, 0, i);
    const double z = philox_normal(123, 7, 1, i);
    sn += z;
    snn += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 0.005);
  EXPECT_NEAR(sn / n, 0.0, 0.01);
  EXPECT_NEAR(snn / n - (sn / n) * (sn / n), 1.0, 0.015);
}

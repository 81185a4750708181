// step() performs zero heap allocations after compilation. This binary
// replaces the global allocation functions (operator new/delete and malloc)
// with counting versions, compiles a full GAN training step (conv layers,
// batch norm, double backward penalty, Adam) and counts allocations across
// several replays on a multi-threaded pool; then the same for a whole
// Trainer::step, whose minibatches stream through the loader's thread.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "engine/autodiff.h"
#include "engine/cpu_backend.h"
#include "engine/ops.h"
#include "tests/synthetic_data.h"
#include "train/trainer.h"

extern "C" void* __libc_malloc(size_t);
extern "C" void* __libc_calloc(size_t, size_t);
extern "C" void* __libc_realloc(void*, size_t);
extern "C" void __libc_free(void*);

namespace {
std::atomic<long> g_allocations{0};
}

extern "C" void* malloc(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t n, size_t s) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, s);
}
extern "C" void* realloc(void* p, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
extern "C" void free(void* p) { __libc_free(p); }
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = __libc_malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t) noexcept { __libc_free(p); }

using namespace gantry;

TEST(ZeroAllocation, StepAllocatesNothing) {
  Graph g;
  const int B = 4;
  const Value w1 = g.parameter(Shape{4, 1, 4, 4}, "w1"), w2 = g.parameter(Shape{1, 4 * 7 * 7}, "w2");
  const Value gam = g.parameter(Shape{4}, "gamma"), bet = g.parameter(Shape{4}, "beta");
  const Value rm = g.state(Shape{4}, "rm"), rv = g.state(Shape{4}, "rv");
  const Value data = g.data(Shape{16, 1, 14, 14}, "data"), idx = g.input(Shape{B}, "idx");
  ConvOptions s2;
  s2.stride[0] = s2.stride[1] = 2;
  s2.padding[0] = s2.padding[1] = 1;
  auto D = [&](Value x) {
    Value h = leaky_relu(g, batch_norm(g, conv2d(g, x, w1, Value{}, s2), gam, bet, rm, rv, true), 0.2f);
    return linear(g, reshape(g, h, Shape{B, -1}), w2, Value{});
  };
  const Value real = gather(g, data, idx);
  const Value fake = tanh(g, normal(g, Shape{B, 1, 14, 14}, 1));
  const Value eps = uniform(g, Shape{B, 1, 1, 1}, 2);
  const Value xhat = add(g, mul(g, eps, real), mul(g, scale(g, eps, -1, 1), fake));
  const Value dx = grad(g, reduce_sum(g, D(xhat), axes({0, 1})), {xhat}, GradOptions{true})[0];
  const Value gp =
      mean(g, square(g, scale(g, sqrt(g, reduce_sum(g, square(g, reshape(g, dx, Shape{B, -1})), axes({1}))), 1, -1)),
           axes({0}));
  const Value loss = add(g, sub(g, mean(g, D(fake), axes({0, 1})), mean(g, D(real), axes({0, 1}))), scale(g, gp, 10));
  const std::vector<Value> params{w1, w2, gam, bet};
  const auto grads = grad(g, loss, params);
  for (size_t i = 0; i < params.size(); ++i)
    adam(g, params[i], grads[i], g.state(g.shape(params[i]), "m"), g.state(g.shape(params[i]), "v"), AdamOptions{});
  ASSERT_TRUE(g.ok()) << g.status().message();

  auto p = CpuProgram<float>::compile(g, {loss}, CpuOptions{2, false});
  ASSERT_TRUE(p.ok()) << p.message();
  std::vector<float> idx_v{0, 5, 9, 15}, loss_v(1);

  const long before = g_allocations.load();
  for (uint64_t step = 0; step < 5; ++step) {
    ASSERT_TRUE((*p)->write(idx, idx_v.data(), B).ok());
    ASSERT_TRUE((*p)->step(StepUniforms{3, step}).ok());
    ASSERT_TRUE((*p)->read(loss, loss_v.data(), 1).ok());
  }
  const long during = g_allocations.load() - before;
  EXPECT_EQ(during, 0) << during << " heap allocations in 5 steps";

  // The counter does count: a vector allocates once.
  const long probe = g_allocations.load();
  std::vector<int> v(10);
  EXPECT_GT(g_allocations.load() - probe, 0);
}

// A trainer's step in the steady state: the loader thread fills the next
// batches from the data source while the step runs, into batches it
// allocated up front (train/loader.h), so the count covers both threads.
TEST(ZeroAllocation, TrainerStepAllocatesNothing) {
  for (const char* model : {"dcgan28", "cgan32"}) {
    TrainConfig c;
    c.model = model;
    c.batch = 4;
    c.threads = 2;
    c.widths = (*nets::model_spec(model))->widths;
    c.widths.nz = 8, c.widths.ngf = 4, c.widths.ndf = 4;
    const int size = (*nets::model_spec(model))->image_size;
    auto t = Trainer::create(c, gantry::testing::synthetic_digits(size, 10));  // an epoch every 2.5 steps
    ASSERT_TRUE(t.ok()) << t.message();
    ASSERT_TRUE((*t)->init_weights().ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*t)->step().ok());  // the loader thread starts, the ring fills
    const long before = g_allocations.load();
    for (int i = 0; i < 6; ++i) ASSERT_TRUE((*t)->step().ok());
    const long during = g_allocations.load() - before;
    EXPECT_EQ(during, 0) << model << ": " << during << " heap allocations in 6 trainer steps";
  }
}

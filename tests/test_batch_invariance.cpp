// One image, one explanation: an image's relevance does not depend on the other images of its
// batch, the batch size or the thread count (model/conv.h). Fashion-MNIST's flat backgrounds
// make max-pool windows whose maxima tie exactly, so a kernel that rounds differently in
// another batch would move relevance to another pixel (up to 5% relative L2 before the fix).
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <vector>

#include "data/fashion_mnist.h"
#include "data/image.h"
#include "helpers.h"
#include "lrp/engine.h"
#include "model/conv.h"
#include "util/threads.h"

namespace lrpbench {
namespace {

at::Tensor fashion_images(const Network& net, int64_t count) {
  static const Dataset d = load_fashion_mnist("test");
  return normalize(d.images.slice(0, 0, count), net.mean, net.std);
}

// Relevance of each of x's images under `composite`, explained in batches of `batch`.
at::Tensor in_batches(const Network& net, const at::Tensor& x, const std::string& composite,
                      int64_t batch) {
  std::vector<int64_t> targets(static_cast<size_t>(x.size(0)), -1);
  return explain_in_batches(net, x, targets, parse_composite(composite, net), batch);
}

// The largest per-image relative L2 distance between two N x ... relevance tensors.
double worst_image(const at::Tensor& a, const at::Tensor& b) {
  double worst = 0.0;
  for (int64_t i = 0; i < a.size(0); ++i) worst = std::max(worst, test::rel_l2(a[i], b[i]));
  return worst;
}

// Restores LibTorch's thread count when a test changes it.
struct Threads {
  int saved = at::get_num_threads();
  ~Threads() { set_threads(saved); }
};

void expect_batch_invariant(const Network& net, const std::string& composite) {
  const at::Tensor x = fashion_images(net, 64);  // flat backgrounds: ties in every pool
  const at::Tensor alone = in_batches(net, x, composite, 1);
  ASSERT_GT(alone.abs().sum().item<double>(), 0.0);
  for (int64_t batch : {2, 7, 16, 64})
    EXPECT_LE(worst_image(in_batches(net, x, composite, batch), alone), 1e-6)
        << net.arch << " " << composite << " batch " << batch;
  // The same batches give the same bits.
  EXPECT_TRUE(at::equal(in_batches(net, x, composite, 7), in_batches(net, x, composite, 7)));
  Threads restore;
  set_threads(1);
  const at::Tensor one_thread = in_batches(net, x, composite, 16);
  set_threads(2);
  EXPECT_LE(worst_image(one_thread, in_batches(net, x, composite, 16)), 1e-6)
      << net.arch << " " << composite << " threads";
  EXPECT_LE(worst_image(one_thread, alone), 1e-6) << net.arch << " " << composite;
}

TEST(BatchInvariance, FashionVggRelevanceIsTheSameInEveryBatch) {
  const Network net = test::shipped_fashion_vgg();
  for (const char* c : {"zero", "tutorial(0.25,0.25)", "epsilon-gamma-box", "zplus"})
    expect_batch_invariant(net, c);
}

TEST(BatchInvariance, FashionResNetRelevanceIsTheSameInEveryBatch) {
  const Network net = canonize(load_model("fashion-resnet", "", 0).net);
  for (const char* c : {"zero", "epsilon-gamma-box"}) expect_batch_invariant(net, c);
}

// A search unit explains one image under K composites sharing one backward: each composite's
// relevance is the one `explain` gives it alone.
TEST(BatchInvariance, SharedCompositesGiveEachItsOwnRelevance) {
  for (const char* arch : {"fashion-vgg", "fashion-resnet"}) {
    const Network net = canonize(load_model(arch, "", 0).net);
    const at::Tensor x = fashion_images(net, 9).slice(0, 8, 9);  // ties in its pools
    std::vector<Composite> composites;
    for (const char* c : {"tutorial(0,0)", "tutorial(0.25,0.25)", "tutorial(1,0.01)", "zero",
                          "epsilon-gamma-box", "decreasing-gamma(0.5,0.1)"})
      composites.push_back(parse_composite(c, net));
    const Explanation shared = explain(net, x, {-1}, composites);
    for (size_t k = 0; k < composites.size(); ++k) {
      const Explanation alone = explain(net, x, {-1}, {composites[k]});
      EXPECT_LE(test::rel_l2(shared.relevance[0][static_cast<int64_t>(k)], alone.relevance[0][0]),
                1e-6)
          << arch << " composite " << k;
    }
  }
}

// The forward pass itself: each image's convolution, ReLU and max-pool outputs and recorded
// pool indices are bit-identical alone and inside a batch of 16; the logits (the dense layers'
// BLAS rounds by batch size) agree to 1e-6.
TEST(BatchInvariance, ForwardRecordIsBitIdenticalPerImage) {
  const Network net = test::shipped_fashion_vgg();
  const at::Tensor x = fashion_images(net, 16);
  ForwardRecord batch;
  forward(net, x, &batch);
  int64_t pools = 0;
  for (int64_t i = 0; i < 16; ++i) {
    ForwardRecord one;
    forward(net, x.slice(0, i, i + 1), &one);
    EXPECT_LE(test::rel_l2(one.logits[0], batch.logits[i]), 1e-6) << i;
    for (size_t p = 0; p < net.layers.size(); ++p) {
      if (net.layers[p].kind == LayerKind::Flatten) break;  // the dense layers follow
      EXPECT_TRUE(at::equal(one.outputs[p][0], batch.outputs[p][i]))
          << "image " << i << " node " << net.layers[p].name;
      if (one.pool_indices[p].defined()) {
        ++pools;
        EXPECT_TRUE(at::equal(one.pool_indices[p][0], batch.pool_indices[p][i]))
            << "image " << i << " node " << net.layers[p].name;
      }
    }
  }
  EXPECT_EQ(pools, 16 * 3);
}

// conv2d_batch_invariant() takes the batch-invariant path on CPU floats and leaves autograd to
// at::conv2d.
TEST(BatchInvariance, ConvTakesTheInvariantPathOutsideAutograd) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "LibTorch built without oneDNN";
  const at::Tensor x = at::randn({2, 3, 9, 9}), w = at::randn({4, 3, 3, 3});
  EXPECT_TRUE(conv2d_is_batch_invariant(x, w, {}));
  EXPECT_FALSE(conv2d_is_batch_invariant(x.clone().set_requires_grad(true), w, {}));
  EXPECT_FALSE(conv2d_is_batch_invariant(x.to(at::kDouble), w.to(at::kDouble), {}));
  // Same values as at::conv2d up to rounding, strided and grouped too.
  const at::Tensor w2 = at::randn({6, 1, 3, 3});
  const std::vector<int64_t> zero{0, 0}, one{1, 1}, two{2, 2};
  EXPECT_LT(test::rel_l2(conv2d_batch_invariant(x, w, {}, {2, 2}, {1, 1}),
                         at::conv2d(x, w, {}, two, one)),
            1e-6);
  EXPECT_LT(test::rel_l2(conv2d_batch_invariant(x, w2, {}, {1, 1}, {0, 0}, {1, 1}, 3),
                         at::conv2d(x, w2, {}, one, zero, one, 3)),
            1e-6);
}

}  // namespace
}  // namespace lrpbench

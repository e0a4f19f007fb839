// Training is seeded and deterministic on CPU; the shipped checkpoint meets its accuracy.
#include <gtest/gtest.h>

#include "data/fashion_mnist.h"
#include "data/image.h"
#include "helpers.h"
#include "model/state_dict.h"
#include "train/train.h"

namespace lrpbench {
namespace {

TEST(Train, SameSeedGivesBitIdenticalWeights) {
  TrainOptions opt;
  opt.epochs = 1;
  opt.limit = 512;
  opt.batch = 64;
  const auto quiet = [](const std::string&) {};
  const TrainResult a = train_model("fashion-vgg", opt, quiet);
  const TrainResult b = train_model("fashion-vgg", opt, quiet);
  const StateDict sa = state_dict_of(a.net), sb = state_dict_of(b.net);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i)
    EXPECT_TRUE(at::equal(sa[i].second, sb[i].second)) << sa[i].first;
  opt.seed = 1;
  const TrainResult c = train_model("fashion-vgg", opt, quiet);
  EXPECT_FALSE(at::equal(state_dict_of(c.net)[0].second, sa[0].second));
}

TEST(Train, ShippedCheckpointReachesNinetyPercent) {
  const Network net = test::shipped_fashion_vgg();
  const Dataset test = load_fashion_mnist("test");
  EXPECT_GE(accuracy(net, normalize(test.images, net.mean, net.std), test.labels, 1000), 0.90);
}

TEST(Train, ShippedFashionResNetReachesNinetyOnePercent) {
  const Network net = canonize(load_model("fashion-resnet", "", 0).net);
  const Dataset test = load_fashion_mnist("test");
  EXPECT_GE(accuracy(net, normalize(test.images, net.mean, net.std), test.labels, 1000), 0.91);
}

// Trains `arch` twice for one epoch on 256 images (its default schedule otherwise) and expects
// the same bits in every tensor; returns the number of tensors.
size_t expect_same_bits(const std::string& arch) {
  TrainOptions opt = default_train_options(arch);
  opt.epochs = 1;
  opt.limit = 256;
  opt.batch = 64;
  auto quiet = [](const std::string&) {};
  const auto sa = state_dict_of(train_model(arch, opt, quiet).net);
  const auto sb = state_dict_of(train_model(arch, opt, quiet).net);
  EXPECT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < std::min(sa.size(), sb.size()); ++i)
    EXPECT_TRUE(at::equal(sa[i].second, sb[i].second)) << arch << " " << sa[i].first;
  return sa.size();
}

// fashion-resnet trains deterministically too (BatchNorm on batch statistics included).
TEST(Train, FashionResNetSameSeedGivesBitIdenticalWeights) {
  expect_same_bits("fashion-resnet");
}

// fashion-vit: deterministic (attention, LayerNorm, GELU), and the shipped checkpoint (trained by
// `lrpbench train --model fashion-vit`) reaches 88%.
TEST(Train, FashionVitSameSeedGivesBitIdenticalWeights) {
  // 12 tensors per layer; conv (2), class token, positional embedding, final norm (2), head (2)
  EXPECT_EQ(expect_same_bits("fashion-vit"), 4u * 12 + 8);
}

TEST(Train, ShippedFashionVitReachesEightyEightPercent) {
  const Network net = canonize(load_model("fashion-vit", "", 0).net);
  const Dataset test = load_fashion_mnist("test");
  EXPECT_GE(accuracy(net, normalize(test.images, net.mean, net.std), test.labels, 1000), 0.88);
}

}  // namespace
}  // namespace lrpbench

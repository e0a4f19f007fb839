#pragma once
// Training of the embedded fashion-vgg on Fashion-MNIST (seeded, deterministic on CPU).
#include <functional>
#include <string>

#include "model/network.h"

namespace lrpbench {

struct TrainOptions {
  int epochs = 8;
  int64_t batch = 128;
  double lr = 1e-3;
  uint64_t seed = 0;
  int64_t limit = 0;  // use only the first `limit` training images (0: all)
};

struct TrainResult {
  Network net;
  double test_accuracy = 0.0;
};

// Adam on cross-entropy, dropout 0.5, learning rate halved after every two epochs.
// `log` receives one line per epoch.
TrainResult train_fashion_vgg(const TrainOptions& opt,
                              const std::function<void(const std::string&)>& log);

// Top-1 accuracy of `net` on normalised images x with labels.
double accuracy(const Network& net, const at::Tensor& x, const std::vector<int64_t>& labels,
                int64_t batch);

}  // namespace lrpbench

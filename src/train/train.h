#pragma once
// Training of the embedded fashion-vgg, fashion-resnet and fashion-vit on Fashion-MNIST
// (seeded, deterministic on CPU).
#include <functional>
#include <string>
#include <vector>

#include "model/network.h"

namespace lrpbench {

struct TrainOptions {
  int epochs = 8;   // fashion-vit: 12 (default_train_options)
  int64_t batch = 128;
  double lr = 1e-3;
  int lr_step = 2;  // the learning rate halves after every lr_step epochs (fashion-vit: 3)
  uint64_t seed = 0;
  int64_t limit = 0;  // use only the first `limit` training images (0: all)
};

struct TrainResult {
  Network net;
  double test_accuracy = 0.0;
};

// The schedule a model is trained with where the command line sets none.
TrainOptions default_train_options(const std::string& arch);

// The models `train` can train (the 28x28 embedded ones).
std::vector<std::string> trainable_models();

// Adam on cross-entropy, dropout 0.5 (fashion-vgg), BatchNorm on batch statistics
// (fashion-resnet), learning rate halved after every `lr_step` epochs. `log` receives one
// line per epoch.
TrainResult train_model(const std::string& arch, const TrainOptions& opt,
                        const std::function<void(const std::string&)>& log);

// Top-1 accuracy of `net` on normalised images x with labels.
double accuracy(const Network& net, const at::Tensor& x, const std::vector<int64_t>& labels,
                int64_t batch);

}  // namespace lrpbench

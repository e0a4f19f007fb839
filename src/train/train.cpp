#include "train/train.h"

#include <torch/torch.h>

#include <cstdio>

#include "data/fashion_mnist.h"
#include "data/image.h"
#include "model/architectures.h"

namespace lrpbench {

double accuracy(const Network& net, const at::Tensor& x, const std::vector<int64_t>& labels,
                int64_t batch) {
  c10::InferenceMode guard;
  int64_t correct = 0;
  const at::Tensor y = at::tensor(labels, at::kLong);
  for (int64_t s = 0; s < x.size(0); s += batch) {
    const int64_t e = std::min(s + batch, x.size(0));
    const at::Tensor pred = forward(net, x.slice(0, s, e).to(net.device())).argmax(1).to(at::kCPU);
    correct += pred.eq(y.slice(0, s, e)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(x.size(0));
}

TrainOptions default_train_options(const std::string& arch) {
  TrainOptions o;
  if (arch == "fashion-vit") {
    o.epochs = 12;
    o.lr_step = 3;
  }
  return o;
}

std::vector<std::string> trainable_models() {
  return {"fashion-vgg", "fashion-resnet", "fashion-vit"};
}

TrainResult train_model(const std::string& arch, const TrainOptions& opt,
                        const std::function<void(const std::string&)>& log) {
  torch::manual_seed(opt.seed);
  Network net = build_architecture(arch);
  init_random(net, opt.seed);
  std::vector<torch::Tensor> params;
  for (Layer& l : net.layers)
    for (at::Tensor* t : {&l.weight, &l.bias})
      if (t->defined()) {
        t->set_requires_grad(true);
        params.push_back(*t);
      }
  const Dataset train = load_fashion_mnist("train");
  const Dataset test = load_fashion_mnist("test");
  at::Tensor x = normalize(train.images, net.mean, net.std);
  at::Tensor y = torch::tensor(train.labels, torch::kLong);
  if (opt.limit > 0 && opt.limit < x.size(0)) {
    x = x.slice(0, 0, opt.limit);
    y = y.slice(0, 0, opt.limit);
  }
  const at::Tensor xt = normalize(test.images, net.mean, net.std);
  torch::optim::Adam adam(params, torch::optim::AdamOptions(opt.lr));
  at::Generator gen = at::detail::createCPUGenerator(opt.seed + 1);
  for (int epoch = 0; epoch < opt.epochs; ++epoch) {
    if (epoch > 0 && epoch % opt.lr_step == 0)
      for (auto& group : adam.param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options())
            .lr(static_cast<torch::optim::AdamOptions&>(group.options()).lr() * 0.5);
    const at::Tensor perm = at::randperm(x.size(0), gen, at::kLong);
    double loss_sum = 0.0;
    int64_t steps = 0;
    for (int64_t s = 0; s < x.size(0); s += opt.batch) {
      const at::Tensor idx = perm.slice(0, s, std::min(s + opt.batch, x.size(0)));
      const at::Tensor h = forward(net, x.index_select(0, idx), nullptr, true);
      const at::Tensor loss = torch::cross_entropy_loss(h, y.index_select(0, idx));
      adam.zero_grad();
      loss.backward();
      adam.step();
      loss_sum += loss.item<double>();
      ++steps;
    }
    const double acc = accuracy(net, xt, test.labels, 1000);
    char line[160];
    std::snprintf(line, sizeof line, "epoch %d/%d  loss %.4f  test accuracy %.4f", epoch + 1,
                  opt.epochs, loss_sum / static_cast<double>(steps), acc);
    log(line);
  }
  TrainResult r;
  for (Layer& l : net.layers)
    for (at::Tensor* t : {&l.weight, &l.bias, &l.running_mean, &l.running_var})
      if (t->defined()) *t = t->detach().clone();
  r.test_accuracy = accuracy(net, xt, test.labels, 1000);
  r.net = net;
  return r;
}

}  // namespace lrpbench

#include "model/pth.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>

#include "model/pickle.h"
#include "util/error.h"

namespace lrpbench {
namespace {

StateDict to_state_dict(const PickleRef& v, const std::string& path, int depth = 0) {
  using Kind = PickleValue::Kind;
  require(v->kind == Kind::Dict,
          path +
              ": expected a dict of tensors (a state dict); whole pickled models are not "
              "supported, save model.state_dict() instead");
  for (const auto& [k, val] : v->dict)
    if (depth == 0 && k->kind == Kind::String && (k->s == "state_dict" || k->s == "model") &&
        val->kind == Kind::Dict)
      return to_state_dict(val, path, depth + 1);
  StateDict sd;
  for (const auto& [k, val] : v->dict) {
    require(k->kind == Kind::String, path + ": state dict has a non-string key");
    require(val->kind == Kind::Tensor,
            path + ": key '" + k->s + "' is not a tensor (" +
                (val->s.empty() ? std::string("unsupported value") : val->s) + ")");
    sd.emplace_back(k->s, val->tensor);
  }
  return sd;
}

}  // namespace

namespace {
std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_zip(const std::string& path) {
  try {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception& e) {
    throw InputError(path + ": not a readable zip-format PyTorch file (" + first_line(e.what()) +
                     ")");
  }
}
}  // namespace

bool zip_has_record(const std::string& path, const std::string& name) {
  return open_zip(path)->hasRecord(name);
}

StateDict read_pth(const std::string& path) {
  auto reader = open_zip(path);
  try {
    require(reader->hasRecord("data.pkl"), path + ": zip archive has no data.pkl");
    auto [ptr, size] = reader->getRecord("data.pkl");
    const std::string pkl(static_cast<const char*>(ptr.get()), size);
    StorageLoader load = [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
      const std::string name = "data/" + key;
      require(reader->hasRecord(name), path + ": missing tensor data record '" + name + "'");
      auto [data, bytes] = reader->getRecord(name);
      at::Tensor t = at::empty({numel}, at::TensorOptions().dtype(dtype));
      require(static_cast<size_t>(t.nbytes()) <= bytes,
              path + ": tensor data record '" + name + "' is truncated");
      std::memcpy(t.data_ptr(), data.get(), t.nbytes());
      return t;
    };
    return to_state_dict(unpickle(pkl, load, path), path);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(path + ": corrupt PyTorch file (" + first_line(e.what()) + ")");
  }
}

}  // namespace lrpbench

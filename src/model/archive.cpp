#include "model/archive.h"

#include "model/pickle.h"
#include "util/error.h"

namespace lrpbench {
namespace {

using Kind = PickleValue::Kind;

constexpr uint64_t kMaxPickleBytes = 256ull << 20;

// Unpickles `<prefix><name>` whose storages live in `<prefix><folder>/<key>`.
PickleDoc read_pickle(const ZipArchive& zip, const std::string& prefix, const std::string& name,
                      const std::string& folder) {
  const ZipEntry* e = zip.find(prefix + name);
  require(e != nullptr, zip.what() + ": archive has no " + name);
  require(e->size <= kMaxPickleBytes, zip.what() + ": " + name + " is implausibly large");
  const std::string data = zip.read(*e);
  const StorageCheck check = [&](const std::string& key, DType dtype, int64_t numel) {
    const std::string record = prefix + folder + "/" + key;
    const ZipEntry* r = zip.find(record);
    require(r != nullptr, zip.what() + ": missing tensor data record '" + record + "'");
    require(r->method == 0, zip.what() + ": tensor data record '" + record + "' is compressed");
    require(static_cast<uint64_t>(numel) <= r->size / dtype_size(dtype),
            zip.what() + ": tensor data record '" + record + "' holds " +
                std::to_string(r->size) + " bytes, its storage declares " +
                std::to_string(numel) + " " + dtype_name(dtype) + " elements (truncated?)");
  };
  return unpickle(data, check, zip.what() + " (" + name + ")");
}

void collect_tensors(const PickleDoc& doc, int dict, const ZipArchive& zip,
                     const std::string& prefix, std::vector<TensorRef>& out) {
  const PickleValue& d = doc.at(dict);
  for (const auto& [k, val] : d.dict) {
    const PickleValue& key = doc.at(k);
    const PickleValue& value = doc.at(val);
    require(key.kind == Kind::String, zip.what() + ": state dict has a non-string key");
    require(value.kind == Kind::Tensor,
            zip.what() + ": key '" + key.s + "' is not a tensor (" +
                (value.s.empty() ? std::string("unsupported value") : value.s) + ")");
    const PickleValue& st = doc.at(value.storage);
    const ZipEntry* r = zip.find(prefix + "data/" + st.s);
    TensorRef t;
    t.key = key.s;
    t.dtype = st.dtype;
    t.storage = zip.view(*r).substr(0, static_cast<size_t>(st.numel) * dtype_size(st.dtype));
    t.offset = value.offset;
    t.sizes = value.sizes;
    t.strides = value.strides;
    out.push_back(std::move(t));
  }
}

}  // namespace

std::string archive_prefix(const ZipArchive& zip) {
  for (const ZipEntry& e : zip.entries()) {
    const auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0)
      return e.name.substr(0, slash + 1);
    if (e.name == "data.pkl") return "";
  }
  throw InputError(zip.what() + ": zip archive has no data.pkl (not a PyTorch file)");
}

bool is_torchscript_archive(const ZipArchive& zip) {
  const std::string prefix = archive_prefix(zip);
  return zip.find(prefix + "constants.pkl") != nullptr;
}

std::vector<TensorRef> parse_pth_archive(const ZipArchive& zip) {
  const std::string prefix = archive_prefix(zip);
  const PickleDoc doc = read_pickle(zip, prefix, "data.pkl", "data");
  int dict = doc.root;
  require(doc.at(dict).kind == Kind::Dict,
          zip.what() +
              ": expected a dict of tensors (a state dict); whole pickled models are not "
              "supported, save model.state_dict() instead");
  for (const auto& [k, val] : doc.at(dict).dict) {
    const PickleValue& key = doc.at(k);
    if (key.kind == Kind::String && (key.s == "state_dict" || key.s == "model") &&
        doc.at(val).kind == Kind::Dict) {
      dict = val;
      break;
    }
  }
  std::vector<TensorRef> out;
  collect_tensors(doc, dict, zip, prefix, out);
  return out;
}

void check_torchscript_archive(const ZipArchive& zip) {
  const std::string prefix = archive_prefix(zip);
  read_pickle(zip, prefix, "data.pkl", "data");
  read_pickle(zip, prefix, "constants.pkl", "constants");
  bool code = false;
  for (const ZipEntry& e : zip.entries())
    if (e.name.compare(0, prefix.size() + 5, prefix + "code/") == 0) code = true;
  require(code, zip.what() + ": TorchScript archive has no code/ (no forward to run)");
}

}  // namespace lrpbench

#include "model/archive.h"

#include <cctype>
#include <string>
#include <string_view>

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

// LibTorch 1.13 reads a class-body assignment without an annotation (`x = 3` rather than
// `x : Final[int] = 3`) as a class constant and dereferences its missing type: torch::jit::load
// crashes (SEGV). torch.jit.save writes such lines only for the names LibTorch knows. Throws
// InputError naming `what` for any other: a line at a class body's indent (strings and
// bracketed continuations skipped) that is a plain name followed by `=` (not `==`), outside
// an Enum's body (whose values LibTorch reads so).
void check_class_assignments(const std::string& code, const std::string& what) {
  auto ident_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  int depth = 0;           // open brackets carried over from earlier lines
  long class_indent = -1;  // the enclosing class statement's indent (-1: none)
  long body_indent = -1;   // its body's (-1: not yet seen)
  bool enum_body = false;  // an Enum's values are assignments without a type
  size_t line_no = 0;
  for (size_t pos = 0; pos < code.size();) {
    size_t end = code.find('\n', pos);
    if (end == std::string::npos) end = code.size();
    const std::string_view line(code.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    const bool continued = depth > 0;
    char quote = 0;  // bracket depth outside strings
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quote) {
        if (c == '\\') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '#') {
        break;
      } else if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
        --depth;
      }
    }
    if (continued) continue;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    const long indent = static_cast<long>(first);
    const std::string_view text = line.substr(first);
    if (class_indent >= 0 && indent <= class_indent) class_indent = body_indent = -1;
    if (text.compare(0, 6, "class ") == 0) {
      class_indent = indent;
      body_indent = -1;
      enum_body = text.find("(Enum)") != std::string_view::npos;  // `RED = 1`: LibTorch's own
      continue;
    }
    if (class_indent < 0 || enum_body) continue;
    if (body_indent < 0) body_indent = indent;
    if (indent != body_indent || !ident_start(text[0])) continue;
    size_t i = 1;
    while (i < text.size() && ident_char(text[i])) ++i;
    const std::string name(text.substr(0, i));
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size() || text[i] != '=' || (i + 1 < text.size() && text[i + 1] == '=')) continue;
    if (name == "__parameters__" || name == "__buffers__" || name == "__forward_pre_hooks__" ||
        name == "__forward_hooks__")
      continue;
    throw InputError(what + ": line " + std::to_string(line_no) + " assigns the class attribute '" +
                     name + "' without a type (LibTorch cannot load it)");
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
  for (const ZipEntry& e : zip.entries()) {
    // Every record LibTorch parses (code, its debug pickles, the version) is read whole, at
    // most kMaxPickleBytes, and checked against its size and CRC; the tensor records (data/,
    // constants/) only as read_pickle checks them (never read whole: a model's weights).
    if (e.name.compare(0, prefix.size() + 5, prefix + "data/") == 0 ||
        e.name.compare(0, prefix.size() + 10, prefix + "constants/") == 0)
      continue;
    require(e.size <= kMaxPickleBytes,
            zip.what() + ": record '" + e.name + "' is implausibly large");
    const std::string bytes = zip.read(e);
    if (e.name.compare(0, prefix.size() + 5, prefix + "code/") != 0) continue;
    code = true;
    const size_t n = e.name.size();
    if (n > 3 && e.name.compare(n - 3, 3, ".py") == 0)
      check_class_assignments(bytes, zip.what() + " (" + e.name + ")");
  }
  require(code, zip.what() + ": TorchScript archive has no code/ (no forward to run)");
}

}  // namespace lrpbench

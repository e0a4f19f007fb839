#include "model/pickle.h"

#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <unordered_map>

#include "util/error.h"

namespace lrpbench {
namespace {

using Kind = PickleValue::Kind;

PickleRef make(Kind k) {
  auto v = std::make_shared<PickleValue>();
  v->kind = k;
  return v;
}

const std::map<std::string, at::ScalarType>& storage_types() {
  static const std::map<std::string, at::ScalarType> t = {
      {"torch.FloatStorage", at::kFloat}, {"torch.DoubleStorage", at::kDouble},
      {"torch.HalfStorage", at::kHalf},   {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},   {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort}, {"torch.CharStorage", at::kChar},
      {"torch.ByteStorage", at::kByte},   {"torch.BoolStorage", at::kBool}};
  return t;
}

class Unpickler {
 public:
  Unpickler(const std::string& data, const StorageLoader& load, const std::string& what)
      : d_(data), load_(load), what_(what) {}

  PickleRef run() {
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80:
          u8();
          break;  // PROTO
        case 0x95:
          bytes(8);
          break;  // FRAME
        case '}':
          push(make(Kind::Dict));
          break;  // EMPTY_DICT
        case ']':
          push(make(Kind::List));
          break;  // EMPTY_LIST
        case ')':
          push(make(Kind::Tuple));
          break;  // EMPTY_TUPLE
        case '(':
          marks_.push_back(stack_.size());
          break;     // MARK
        case 't': {  // TUPLE
          auto t = make(Kind::Tuple);
          t->items = pop_mark();
          push(t);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84;
          need(n);
          auto t = make(Kind::Tuple);
          t->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(t);
          break;
        }
        case 'q':
          memo_[u8()] = top();
          break;  // BINPUT
        case 'r':
          memo_[u32()] = top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'h':
          push(get(u8()));
          break;  // BINGET
        case 'j':
          push(get(u32()));
          break;  // LONG_BINGET
        case 'X':
          push(str(bytes(u32())));
          break;  // BINUNICODE
        case 0x8c:
          push(str(bytes(u8())));
          break;  // SHORT_BINUNICODE
        case 0x8d:
          push(str(bytes(static_cast<size_t>(u64()))));
          break;  // BINUNICODE8
        case 'U':
          push(str(bytes(u8())));
          break;  // SHORT_BINSTRING
        case 'T':
          push(str(bytes(u32())));
          break;  // BINSTRING
        case 'B':
          push(str(bytes(u32())));
          break;  // BINBYTES
        case 'C':
          push(str(bytes(u8())));
          break;     // SHORT_BINBYTES
        case 'c': {  // GLOBAL
          const std::string module = line();
          const std::string name = line();
          auto g = make(Kind::Global);
          g->s = module + "." + name;
          push(g);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          need(2);
          auto name = pop();
          auto module = pop();
          auto g = make(Kind::Global);
          g->s = module->s + "." + name->s;
          push(g);
          break;
        }
        case 'J':
          push(integer(static_cast<int32_t>(u32())));
          break;  // BININT
        case 'K':
          push(integer(u8()));
          break;  // BININT1
        case 'M':
          push(integer(u16()));
          break;      // BININT2
        case 0x8a: {  // LONG1
          const size_t n = u8();
          const std::string b = bytes(n);
          require(n <= 8, what_ + ": integer too large in pickle");
          int64_t v = 0;
          for (size_t k = 0; k < n; ++k)
            v |= static_cast<int64_t>(static_cast<uint8_t>(b[k])) << (8 * k);
          if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) v -= int64_t(1) << (8 * n);
          push(integer(v));
          break;
        }
        case 'N':
          push(make(Kind::None));
          break;
        case 0x88:
        case 0x89: {  // NEWTRUE / NEWFALSE
          auto v = make(Kind::Bool);
          v->b = op == 0x88;
          push(v);
          break;
        }
        case 'G': {  // BINFLOAT (big-endian)
          const std::string b = bytes(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<uint8_t>(b[k]);
          auto v = make(Kind::Float);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 'Q':
          push(persistent(pop()));
          break;     // BINPERSID
        case 'R': {  // REDUCE
          need(2);
          auto args = pop();
          auto fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          need(2);
          pop();
          pop();
          push(make(Kind::Opaque));
          break;
        }
        case 'b':
          need(2);
          pop();
          break;     // BUILD: state ignored (e.g. _metadata)
        case 's': {  // SETITEM
          need(3);
          auto v = pop();
          auto k = pop();
          set_item(top(), k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          require(items.size() % 2 == 0 && !stack_.empty(), what_ + ": corrupt pickle (SETITEMS)");
          for (size_t k = 0; k < items.size(); k += 2) set_item(top(), items[k], items[k + 1]);
          break;
        }
        case 'a': {  // APPEND
          need(2);
          auto v = pop();
          append(top(), v);
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          require(!stack_.empty(), what_ + ": corrupt pickle (APPENDS)");
          for (auto& v : items) append(top(), v);
          break;
        }
        case '.': {  // STOP
          need(1);
          return pop();
        }
        default:
          throw InputError(what_ + ": unsupported pickle opcode 0x" + hex(op) + " at byte " +
                           std::to_string(pos_ - 1));
      }
    }
  }

 private:
  const std::string& d_;
  const StorageLoader& load_;
  const std::string& what_;
  size_t pos_ = 0;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;

  static std::string hex(uint8_t v) {
    const char* digits = "0123456789abcdef";
    return {digits[v >> 4], digits[v & 15]};
  }
  void truncated() const { throw InputError(what_ + ": truncated or corrupt pickle data"); }
  uint8_t u8() {
    if (pos_ >= d_.size()) truncated();
    return static_cast<uint8_t>(d_[pos_++]);
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v |= static_cast<uint32_t>(u8()) << (8 * k);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v |= static_cast<uint64_t>(u8()) << (8 * k);
    return v;
  }
  std::string bytes(size_t n) {
    if (n > d_.size() - pos_) truncated();
    std::string out = d_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::string line() {
    const size_t end = d_.find('\n', pos_);
    if (end == std::string::npos) truncated();
    std::string out = d_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  static PickleRef str(std::string s) {
    auto v = make(Kind::String);
    v->s = std::move(s);
    return v;
  }
  static PickleRef integer(int64_t i) {
    auto v = make(Kind::Int);
    v->i = i;
    return v;
  }
  void push(PickleRef v) { stack_.push_back(std::move(v)); }
  void need(size_t n) const {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) truncated();
  }
  PickleRef pop() {
    need(1);
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleRef& top() {
    need(1);
    return stack_.back();
  }
  PickleRef get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) truncated();
    return it->second;
  }
  std::vector<PickleRef> pop_mark() {
    if (marks_.empty()) truncated();
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) truncated();
    std::vector<PickleRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void set_item(const PickleRef& d, const PickleRef& k, const PickleRef& v) {
    require(d->kind == Kind::Dict, what_ + ": corrupt pickle (item set on a non-dict)");
    for (auto& kv : d->dict)
      if (kv.first->kind == Kind::String && k->kind == Kind::String && kv.first->s == k->s) {
        kv.second = v;
        return;
      }
    d->dict.emplace_back(k, v);
  }
  void append(const PickleRef& l, const PickleRef& v) {
    require(l->kind == Kind::List, what_ + ": corrupt pickle (append to a non-list)");
    l->items.push_back(v);
  }

  PickleRef persistent(const PickleRef& pid) {
    // ('storage', <storage type>, key, location, numel)
    require(pid->kind == Kind::Tuple && pid->items.size() >= 5 &&
                pid->items[0]->kind == Kind::String && pid->items[0]->s == "storage",
            what_ + ": unsupported persistent id in pickle");
    const auto& type = pid->items[1];
    auto it = storage_types().find(type->s);
    require(type->kind == Kind::Global && it != storage_types().end(),
            what_ + ": unsupported storage type '" + type->s + "'");
    auto st = make(Kind::Storage);
    st->s = pid->items[2]->s;
    st->tensor = load_(st->s, it->second, pid->items[4]->i);
    return st;
  }

  static std::vector<int64_t> ints(const PickleRef& t) {
    std::vector<int64_t> out;
    for (const auto& v : t->items) out.push_back(v->i);
    return out;
  }

  PickleRef reduce(const PickleRef& fn, const PickleRef& args) {
    if (fn->kind == Kind::Global && fn->s == "collections.OrderedDict") return make(Kind::Dict);
    if (fn->kind == Kind::Global && fn->s == "torch._utils._rebuild_tensor_v2") {
      require(args->kind == Kind::Tuple && args->items.size() >= 4 &&
                  args->items[0]->kind == Kind::Storage,
              what_ + ": corrupt tensor record in pickle");
      const at::Tensor& storage = args->items[0]->tensor;
      const int64_t offset = args->items[1]->i;
      const auto size = ints(args->items[2]);
      const auto stride = ints(args->items[3]);
      int64_t extent = offset + 1;
      for (size_t k = 0; k < size.size(); ++k) {
        if (size[k] == 0) extent = 0;
        if (extent > 0) extent += (size[k] - 1) * stride[k];
      }
      require(size.size() == stride.size() && extent <= storage.numel(),
              what_ + ": tensor view exceeds its storage (corrupt file)");
      auto t = make(Kind::Tensor);
      t->tensor = storage.as_strided(size, stride, offset).clone();
      return t;
    }
    if (fn->kind == Kind::Global && fn->s == "torch._utils._rebuild_parameter") {
      require(args->kind == Kind::Tuple && !args->items.empty(), what_ + ": corrupt parameter");
      return args->items[0];
    }
    auto o = make(Kind::Opaque);
    o->s = fn->s;
    return o;
  }
};

}  // namespace

PickleRef unpickle(const std::string& data, const StorageLoader& load, const std::string& what) {
  return Unpickler(data, load, what).run();
}

}  // namespace lrpbench

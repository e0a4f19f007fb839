#include "lrp/stabilizer_kind.h"

namespace lrpbench {

const char* stabilizer_name(Stabilizer s) {
  switch (s) {
    case Stabilizer::Sign:
      return "sign";
    case Stabilizer::Vanilla:
      return "vanilla";
    case Stabilizer::Quadratic:
      return "quadratic";
    case Stabilizer::Reference:
      return "reference";
    case Stabilizer::None:
      return "none";
  }
  return "?";
}

std::vector<std::string> stabilizer_names() {
  return {"sign", "vanilla", "quadratic", "reference", "none"};
}

bool parse_stabilizer(const std::string& name, Stabilizer* out) {
  for (Stabilizer s : {Stabilizer::Sign, Stabilizer::Vanilla, Stabilizer::Quadratic,
                       Stabilizer::Reference, Stabilizer::None})
    if (name == stabilizer_name(s)) {
      *out = s;
      return true;
    }
  return false;
}

}  // namespace lrpbench

#pragma once
// The stabilizers' names (docs/method.md section 1), without LibTorch (lrp/stabilizer.h computes them).
#include <string>
#include <vector>

namespace lrpbench {

enum class Stabilizer { Sign, Vanilla, Quadratic, Reference, None };

const char* stabilizer_name(Stabilizer s);
// Parses a stabilizer name; returns false if unknown.
bool parse_stabilizer(const std::string& name, Stabilizer* out);
std::vector<std::string> stabilizer_names();

}  // namespace lrpbench

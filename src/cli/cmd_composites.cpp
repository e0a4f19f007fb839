#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "lrp/composite.h"
#include "lrp/presets.h"
#include "model/architectures.h"

namespace lrpbench {
namespace {

struct CompositesArgs {
  std::string model;
  std::string composite;
};

void run_composites(const CompositesArgs& a) {
  if (!a.model.empty()) {
    const Network net = build_architecture(a.model);
    std::cout << canonical_form(
                     parse_composite(a.composite.empty() ? "tutorial" : a.composite, net), net)
              << "\n";
    return;
  }
  std::cout << "Presets:\n";
  for (const PresetInfo& p : preset_infos())
    std::cout << "  " << p.name << p.args << "\n      " << p.description << "\n";
  std::cout
      << "\nRules (stabilizer epsilon 1e-6 unless given):\n"
         "  zero                LRP-0\n"
         "  epsilon(e=0.25)     LRP-epsilon (e = 0 is LRP-0)\n"
         "  gamma(g=0.25)       LRP-gamma: w + g*max(0,w), weights and bias\n"
         "  zbox                z^B with the pixel-range bounds (first layer only)\n"
         "  zplus               alpha1-beta0\n"
         "  alphabeta(a=2,b=1)  a - b = 1, a, b >= 0\n"
         "  flat                every weight 1, bias 0\n"
         "  wsquare             squared weights, bias 0\n"
         "\nStabilizers (add stab=NAME to any rule's arguments):\n"
         "  sign (default)  z + (sign(z) + (z==0)) * eps\n"
         "  vanilla         z + eps\n"
         "  quadratic       z + eps * sqrt(mean(z^2)) + 1e-9 (per sample)\n"
         "  reference       sign with 1e-6 applied to z + eps\n"
         "  none            plain division, 0/0 := 0\n"
         "\nGrammar (whitespace ignored):\n"
         "  composite := preset | rule | item { \";\" item }\n"
         "  preset    := (\"tutorial\" | \"decreasing-gamma\" | \"decreasing-gamma-reference\")\n"
         "               [ \"(\" num { \",\" num } \")\" ] | \"uniform\" \"(\" rule \")\"\n"
         "  item      := range \":\" rule\n"
         "  range     := int | int \"-\" int | int \"-\"   (inclusive; \"A-\" runs to the last "
         "layer)\n"
         "  rule      := name [ \"(\" [ arg { \",\" arg } ] \")\" ]\n"
         "  arg       := num | \"stab=\" stabilizer\n"
         "Layer indices are the model's own (torchvision numbering; BatchNorm counts).\n"
         "Example: 0:zbox;1-16:gamma(0.25);17-30:epsilon(0.25,stab=quadratic);31-:zero\n"
         "Print a composite's canonical form: lrpbench composites --model vgg16 "
         "--composite tutorial\n";
}

}  // namespace

void add_composites_command(CLI::App& app) {
  auto args = std::make_shared<CompositesArgs>();
  CLI::App* sub = app.add_subcommand("composites",
                                     "list presets, rules, stabilizers and the composite grammar");
  sub->add_option("--model", args->model, "print the canonical form of --composite for this model");
  sub->add_option("--composite", args->composite, "composite spec (with --model)");
  sub->callback([args] { run_composites(*args); });
}

}  // namespace lrpbench

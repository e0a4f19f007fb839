#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "lrp/composite.h"
#include "lrp/presets.h"
#include "model/architectures.h"
#include "model/weights.h"

namespace lrpbench {
namespace {

struct CompositesArgs {
  std::string model;
  std::string composite;
};

// The model's rule-carrying nodes, one per line, with the rule each preset gives them.
// Transformers (a node kind with rules of its own) list the transformer presets first.
void list_nodes(const ModelShape& net) {
  const bool transformer = has_own_rule_kinds(net);
  const std::vector<std::string> presets =
      transformer ? std::vector<std::string>{"cp-lrp", "attnlrp", "epsilon-gamma-box",
                                             "epsilon-plus"}
                  : std::vector<std::string>{"tutorial", "decreasing-gamma", "epsilon-gamma-box",
                                             "epsilon-plus", "epsilon-plus-flat",
                                             "epsilon-alpha2-beta1"};
  std::vector<Composite> comps;
  for (const std::string& p : presets) comps.push_back(parse_composite(p, net));
  std::cout << "name\tindex\tkind";
  for (const std::string& p : presets) std::cout << "\t" << p;
  std::cout << "\n";
  for (size_t pos : net.rule_nodes()) {
    const LayerInfo& l = net.layers[pos];
    std::cout << l.name << "\t" << (l.index >= 0 ? std::to_string(l.index) : "-") << "\t"
              << node_kind_name(l.kind);
    for (const Composite& c : comps) std::cout << "\t" << c.at(l.slot).text();
    std::cout << "\n";
  }
}

void run_composites(const CompositesArgs& a) {
  if (!a.model.empty()) {
    const Network net =
        is_model_file(a.model) ? load_model(a.model, "", 0).net : build_architecture(a.model);
    if (a.composite.empty()) {
      list_nodes(net);
      return;
    }
    std::cout << canonical_form(parse_composite(a.composite, net), net) << "\n";
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
         "Rules of the transformer kinds (docs/method.md, \"Transformers\"):\n"
         "  identity            norm: divisor held constant; act: relevance unchanged\n"
         "  attnlrp             attention: q, k get the gradient / 4, v / 2, softmax exact\n"
         "  cp                  attention: q, k held constant, all relevance to v\n"
         "  uniform             product: each operand half of the gradient\n"
         "  gate                product: the gate held constant, all to the other operand\n"
         "  grad                norm, act, attention, product: the exact gradient\n"
         "\nStabilizers (add stab=NAME to any rule's arguments):\n"
         "  sign (default)  z + (sign(z) + (z==0)) * eps\n"
         "  vanilla         z + eps\n"
         "  quadratic       z + eps * sqrt(mean(z^2)) + 1e-9 (per sample)\n"
         "  reference       sign with 1e-6 applied to z + eps\n"
         "  none            plain division, 0/0 := 0\n"
         "\nGrammar (whitespace ignored):\n"
         "  composite := head [ \";\" item { \";\" item } ] | item { \";\" item }\n"
         "  head      := preset | rule   (what the items then change)\n"
         "  preset    := (\"tutorial\" | \"decreasing-gamma\" | \"decreasing-gamma-reference\"\n"
         "               | \"epsilon-gamma-box\" | \"epsilon-plus\" | \"epsilon-plus-flat\"\n"
         "               | \"epsilon-alpha2-beta1\" | \"cp-lrp\" | \"attnlrp\")\n"
         "               [ \"(\" num { \",\" num } \")\" ]\n"
         "               | \"uniform\" \"(\" rule \")\"\n"
         "  item      := selector \":\" rule   (split at the last \":\" outside parentheses)\n"
         "  selector  := range | \"@\" type | name \"..\" name | glob\n"
         "  range     := int | int \"-\" int | int \"-\"   (inclusive; \"A-\" runs to the last "
         "layer)\n"
         "  type      := first | conv | linear | bn | add | avgpool | norm | act | attention\n"
         "               | product | attn-linear | all   (attn-linear: an attention's in- and\n"
         "               out-projections, linear nodes too)\n"
         "  glob      := a node name with \"*\" (any characters, dots included) and \"?\"\n"
         "  rule      := name [ \"(\" [ arg { \",\" arg } ] \")\" ]   (pass: BatchNorm only;\n"
         "               a bare 'uniform' is the product rule, 'uniform(RULE)' the preset)\n"
         "  arg       := num | \"stab=\" stabilizer\n"
         "Layer indices are the model's own (torchvision numbering; BatchNorm counts); nodes\n"
         "without a module (add) have names only. Items apply in order; an item that sets no\n"
         "node is an error.\n"
         "Example: 0:zbox;1-16:gamma(0.25);17-30:epsilon(0.25,stab=quadratic);31-:zero\n"
         "Example: @all:epsilon(0.1);@conv:gamma(0.25);@first:zbox;layer4.*:epsilon(0.25);"
         "fc:zero\n"
         "Example: tutorial;layer3.*:epsilon(0.5)\n"
         "List a model's nodes and what each preset gives them: lrpbench composites --model "
         "resnet18\n"
         "Print a composite's canonical form: lrpbench composites --model vgg16 "
         "--composite tutorial\n";
}

}  // namespace

void add_composites_command(CLI::App& app) {
  auto args = std::make_shared<CompositesArgs>();
  CLI::App* sub = app.add_subcommand("composites",
                                     "list presets, rules, stabilizers and the composite grammar");
  sub->add_option("--model", args->model,
                  "list this model's rule-carrying nodes (name, index, kind, the rule of each "
                  "preset), or with --composite print its canonical form");
  sub->add_option("--composite", args->composite, "composite spec (with --model)");
  sub->callback([args] { run_composites(*args); });
}

}  // namespace lrpbench

// Composite grammar, presets (SPEC's tables) and canonical forms.
#include <gtest/gtest.h>

#include "helpers.h"
#include "lrp/composite.h"
#include "lrp/presets.h"
#include "util/error.h"

namespace lrpbench {
namespace {

struct Span {
  int first, last;
  std::string rule;
};

// The rule SPEC's table gives `index`.
std::string table_rule(const std::vector<Span>& table, int index) {
  for (const Span& s : table)
    if (index >= s.first && index <= s.last) return s.rule;
  return "zero";
}

void expect_table(const std::string& arch, const std::string& spec,
                  const std::vector<Span>& table) {
  const Network net = build_architecture(arch);
  const Composite c = parse_composite(spec, net);
  for (int idx : net.linear_indices())
    EXPECT_EQ(c.at(idx).text(), table_rule(table, idx)) << arch << " " << spec << " index " << idx;
}

TEST(Presets, TutorialOnVgg16FollowsTable) {
  expect_table(
      "vgg16", "tutorial",
      {{0, 0, "zbox"}, {1, 16, "gamma(0.25)"}, {17, 30, "epsilon(0.25)"}, {31, 99, "zero"}});
  expect_table("vgg16", "tutorial(0.1,0.5)",
               {{0, 0, "zbox"}, {1, 16, "gamma(0.1)"}, {17, 30, "epsilon(0.5)"}, {31, 99, "zero"}});
}

TEST(Presets, TutorialOnFashionVggFollowsTable) {
  expect_table(
      "fashion-vgg", "tutorial",
      {{0, 0, "zbox"}, {1, 9, "gamma(0.25)"}, {10, 14, "epsilon(0.25)"}, {15, 99, "zero"}});
}

TEST(Presets, DecreasingGammaOnVgg16FollowsTable) {
  const std::vector<Span> t = {{0, 0, "zbox"},          {2, 10, "gamma(0.5)"},
                               {11, 17, "gamma(0.25)"}, {18, 24, "gamma(0.1)"},
                               {25, 31, "zero"},        {32, 99, "zero"}};
  expect_table("vgg16", "decreasing-gamma", t);
  expect_table("vgg16", "decreasing-gamma(0.25,0.1)", t);
  expect_table("vgg16", "decreasing-gamma(0.3,0.02)",
               {{0, 0, "zbox"},
                {2, 10, "gamma(0.5)"},
                {11, 17, "gamma(0.3)"},
                {18, 24, "gamma(0.02)"},
                {25, 99, "zero"}});
}

TEST(Presets, DecreasingGammaOnFashionVggFollowsTable) {
  expect_table("fashion-vgg", "decreasing-gamma",
               {{0, 0, "zbox"},
                {2, 6, "gamma(0.5)"},
                {7, 9, "gamma(0.25)"},
                {10, 11, "gamma(0.1)"},
                {12, 99, "zero"}});
}

TEST(Presets, DecreasingGammaReference) {
  expect_table("vgg16", "decreasing-gamma-reference(0.2,0.05)",
               {{0, 0, "zbox"},
                {1, 17, "gamma(0.2)"},
                {18, 24, "gamma(0.05)"},
                {25, 31, "zero"},
                {32, 99, "zero(stab=none)"}});
  EXPECT_THROW(parse_composite("decreasing-gamma-reference", build_architecture("fashion-vgg")),
               InputError);
}

TEST(Presets, OtherVggsGetTheGeneralForm) {
  // vgg16_bn: BatchNorm layers count in the indices; convs at 0, 3, 7, 10, ...
  const Network net = build_architecture("vgg16_bn");
  const Composite c = parse_composite("tutorial", net);
  EXPECT_EQ(c.at(0).text(), "zbox");
  EXPECT_EQ(c.at(3).text(), "gamma(0.25)");
  const int last_conv =
      net.layers[static_cast<size_t>(net.position_of(40))].kind == LayerKind::Conv2d ? 40 : -1;
  EXPECT_EQ(last_conv, 40);
  EXPECT_EQ(c.at(40).text(), "epsilon(0.25)");
  EXPECT_EQ(c.at(44).text(), "zero");  // avgpool
}

TEST(Canonical, SpecExamples) {
  const Network vgg = build_architecture("vgg16");
  EXPECT_EQ(canonical_form(parse_composite("tutorial(0.25,0.25)", vgg), vgg),
            "0:zbox;2-14:gamma(0.25);17-28:epsilon(0.25);31-38:zero");
  EXPECT_EQ(canonical_form(parse_composite("decreasing-gamma", vgg), vgg),
            "0:zbox;2-10:gamma(0.5);12-17:gamma(0.25);19-24:gamma(0.1);26-38:zero");
  EXPECT_EQ(canonical_form(
                parse_composite(
                    "0:zbox;1-16:gamma(0.25);17-30:epsilon(0.25,stab=quadratic);31-:zero", vgg),
                vgg),
            "0:zbox;2-14:gamma(0.25);17-28:epsilon(0.25,stab=quadratic);31-38:zero");
  EXPECT_EQ(canonical_form(parse_composite("zero(stab=none)", vgg), vgg), "0-38:zero(stab=none)");
  EXPECT_EQ(canonical_form(parse_composite("uniform(gamma(0))", vgg), vgg), "0-38:zero");
  EXPECT_EQ(canonical_form(parse_composite(" tutorial ( 0.1 , 0.5 ) ", vgg), vgg),
            "0:zbox;2-14:gamma(0.1);17-28:epsilon(0.5);31-38:zero");
}

TEST(Grammar, ItemsOverrideAndDefaults) {
  const Network net = build_architecture("fashion-vgg");
  const Composite c =
      parse_composite("0-:epsilon;5:gamma;7:alphabeta;15-:zplus(stab=vanilla)", net);
  EXPECT_EQ(c.at(0).text(), "epsilon(0.25)");
  EXPECT_EQ(c.at(5).text(), "gamma(0.25)");
  EXPECT_EQ(c.at(7).text(), "alphabeta(2,1)");
  EXPECT_EQ(c.at(15).text(), "zplus(stab=vanilla)");
  EXPECT_EQ(parse_composite("2:gamma(1e-1)", net).at(0).text(), "zero");  // unassigned: LRP-0
  EXPECT_EQ(parse_composite("2:gamma(1e-1)", net).at(2).text(), "gamma(0.1)");
}

// The message of the InputError thrown by parsing `spec` on fashion-vgg.
std::string error_of(const std::string& spec) {
  try {
    parse_composite(spec, build_architecture("fashion-vgg"));
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Grammar, ErrorsNameThePosition) {
  EXPECT_NE(error_of("tutorial(0.1,)").find("expected a number at position 14"), std::string::npos)
      << error_of("tutorial(0.1,)");
  EXPECT_NE(error_of("gama(0.1)").find("unknown rule 'gama' at position 1"), std::string::npos);
  EXPECT_NE(error_of("0:zbox;2:gamma(0.1").find("position 19"), std::string::npos)
      << error_of("0:zbox;2:gamma(0.1");
  EXPECT_NE(error_of("0-40:zero").find("past the last layer index 18"), std::string::npos);
  EXPECT_NE(error_of("zbox").find("zbox may only be given to the first layer"), std::string::npos);
  EXPECT_NE(error_of("0-2:zbox").find("zbox may only"), std::string::npos);
  EXPECT_NE(error_of("epsilon(0.1,0.2)").find("takes 1 argument"), std::string::npos);
  EXPECT_NE(error_of("tutorial(0.1)").find("takes 0 or 2 arguments"), std::string::npos);
  EXPECT_NE(error_of("alphabeta(2,2)").find("a - b = 1"), std::string::npos);
  EXPECT_NE(error_of("zero(stab=magic)").find("unknown stabilizer 'magic'"), std::string::npos);
  EXPECT_NE(error_of("gamma(inf)").find("expected a number"), std::string::npos);
  EXPECT_NE(error_of("gamma(0x10)").find("at position 8"), std::string::npos)
      << error_of("gamma(0x10)");
  EXPECT_NE(error_of("").find("empty composite"), std::string::npos);
  EXPECT_NE(error_of("5-3:zero").find("empty range"), std::string::npos);
  EXPECT_NE(error_of("tutorial;").find("after the composite"), std::string::npos);
  for (const std::string s : {"tutorial(0.1,)", "0:zbox;;", ":zero", "gamma(-1)"})
    EXPECT_EQ(error_of(s).find('\n'), std::string::npos) << s;
}

}  // namespace
}  // namespace lrpbench

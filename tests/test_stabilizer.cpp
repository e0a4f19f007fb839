#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "helpers.h"
#include "lrp/stabilizer.h"

namespace lrpbench {
namespace {

at::Tensor d() {
  return at::tensor({-0.1, 5.0, -5.0, -10.0}, at::kDouble).view({1, 4});
}

void expect_values(const at::Tensor& t, const std::vector<double>& want) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
  const at::Tensor f = t.flatten();
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(f[static_cast<int64_t>(i)].item<double>(), want[i], 1e-12) << "element " << i;
}

TEST(Stabilizer, Vanilla) {
  expect_values(stabilize(d(), 0.1, Stabilizer::Vanilla), {0, 5.1, -4.9, -9.9});
}

TEST(Stabilizer, Sign) {
  expect_values(stabilize(d(), 0.1, Stabilizer::Sign), {-0.2, 5.1, -5.1, -10.1});
  // sign(0) + (0 == 0) = 1: zero moves up.
  expect_values(stabilize(at::zeros({1, 1}, at::kDouble), 0.1, Stabilizer::Sign), {0.1});
}

TEST(Stabilizer, Quadratic) {
  const double rms = std::sqrt((0.01 + 25 + 25 + 100) / 4.0);
  expect_values(stabilize(d(), 0.1, Stabilizer::Quadratic),
                {-0.1 + 0.1 * rms + 1e-9, 5 + 0.1 * rms + 1e-9, -5 + 0.1 * rms + 1e-9,
                 -10 + 0.1 * rms + 1e-9});
}

TEST(Stabilizer, QuadraticIsPerSample) {
  // A second sample in the batch must not change the first one's result.
  const at::Tensor both = at::cat({d(), d() * 100});
  const at::Tensor one = stabilize(d(), 0.1, Stabilizer::Quadratic);
  EXPECT_TRUE(at::allclose(stabilize(both, 0.1, Stabilizer::Quadratic)[0], one[0]));
}

TEST(Stabilizer, Reference) {
  // sign with 1e-6 applied to z + eps.
  expect_values(stabilize(d(), 0.1, Stabilizer::Reference),
                {1e-6, 5.1 + 1e-6, -4.9 - 1e-6, -9.9 - 1e-6});
}

TEST(Stabilizer, NoneDividesPlainlyWithZeroOverZeroZero) {
  const at::Tensor r = at::tensor({1.0, 0.0, 2.0}, at::kDouble).view({1, 3});
  const at::Tensor z = at::tensor({2.0, 0.0, -4.0}, at::kDouble).view({1, 3});
  expect_values(stabilized_divide(r, z, 0.1, Stabilizer::None), {0.5, 0.0, -0.5});
}

TEST(Stabilizer, Names) {
  for (const std::string& n : stabilizer_names()) {
    Stabilizer s;
    ASSERT_TRUE(parse_stabilizer(n, &s));
    EXPECT_EQ(n, stabilizer_name(s));
  }
  Stabilizer s;
  EXPECT_FALSE(parse_stabilizer("magic", &s));
}

}  // namespace
}  // namespace lrpbench

namespace lrpbench {
namespace {

TEST(Stabilizer, FusedFloatKernelMatchesTensorFormula) {
  at::Generator gen = at::detail::createCPUGenerator(0);
  // Multiples of 1/1024: z + eps is exact in float as in double.
  at::Tensor z = (at::randn({3, 50000}, gen) * 1024).round() / 1024;
  z.slice(1, 0, 100).zero_();  // exact zeros exercise sign(0) and 0/0
  const at::Tensor r = at::randn({3, 50000}, gen);
  for (Stabilizer s :
       {Stabilizer::Sign, Stabilizer::Vanilla, Stabilizer::Reference, Stabilizer::None}) {
    const at::Tensor fast = stabilized_divide(r, z, 0.0078125, s);  // exact in float
    const at::Tensor ref = stabilized_divide(r.to(at::kDouble), z.to(at::kDouble), 0.0078125, s);
    EXPECT_TRUE(at::allclose(fast.to(at::kDouble), ref, 1e-5, 1e-6)) << stabilizer_name(s);
  }
}

// The kernels that read z's rows through `rows` give the bits of the same call on the
// gathered copy z.index_select(0, rows): every stabilizer, rows repeated and out of order, z
// contiguous and channels-last, zeros in z (the `none` case), CPU float; other dtypes go the
// gathered way.
TEST(Stabilizer, RowsReadInPlaceGiveTheGatheredBits) {
  at::Generator gen = at::detail::createCPUGenerator(21);
  const auto f = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor rows = at::tensor(std::vector<int64_t>{2, 0, 2, 1, 1, 0, 2}, at::kLong);
  at::Tensor z = at::randn({3, 4, 5, 6}, gen, f);
  z.view({-1}).slice(0, 0, 20).zero_();  // exact zeros: `none` maps 0/0 to 0
  const at::Tensor pz = at::randn({3, 4, 5, 6}, gen, f).abs();
  const at::Tensor r = at::randn({7, 4, 5, 6}, gen, f);
  auto same = [](const at::Tensor& a, const at::Tensor& b) {
    return a.sizes() == b.sizes() && a.is_contiguous() == b.is_contiguous() &&
           at::equal(a.contiguous(), b.contiguous());
  };
  for (const at::Tensor& zz : {z, z.contiguous(at::MemoryFormat::ChannelsLast)}) {
    const at::Tensor zg = zz.index_select(0, rows), pg = pz.index_select(0, rows);
    for (Stabilizer st : {Stabilizer::Sign, Stabilizer::Vanilla, Stabilizer::Reference,
                          Stabilizer::None, Stabilizer::Quadratic}) {
      EXPECT_TRUE(same(stabilized_divide(r, zz, 1e-3, st, rows), stabilized_divide(r, zg, 1e-3, st)))
          << stabilizer_name(st);
      EXPECT_TRUE(same(gamma_quotients(r, zz, pz, 0.25, 1e-3, st, rows),
                       gamma_quotients(r, zg, pg, 0.25, 1e-3, st)))
          << stabilizer_name(st);
    }
    EXPECT_TRUE(same(mul_rows_(r.clone(), zz, rows), r.clone().mul_(zg)));
    EXPECT_TRUE(relevance_on_nonpositive(r, zz, rows));
    const at::Tensor on_positive = at::where(zg > 0, r, at::zeros({}, f));
    EXPECT_FALSE(relevance_on_nonpositive(on_positive, zz, rows));
    at::Tensor one = on_positive.clone();
    one.view({-1})[zg.reshape({-1}).argmin()] = 1.0f;  // one unit with z < 0 carries relevance
    EXPECT_TRUE(relevance_on_nonpositive(one, zz, rows));
  }
  // Doubles and undefined rows take the plain paths.
  const at::Tensor zd = z.to(at::kDouble), rd = r.to(at::kDouble);
  EXPECT_TRUE(at::equal(stabilized_divide(rd, zd, 1e-3, Stabilizer::Sign, rows),
                        stabilized_divide(rd, zd.index_select(0, rows), 1e-3, Stabilizer::Sign)));
  const at::Tensor r3 = r.narrow(0, 0, 3);
  EXPECT_TRUE(at::equal(stabilized_divide(r3, z, 1e-3, Stabilizer::Sign, at::Tensor()),
                        stabilized_divide(r3, z, 1e-3, Stabilizer::Sign)));
  EXPECT_TRUE(gather_rows(z, at::Tensor()).is_same(z));
}

}  // namespace
}  // namespace lrpbench

#pragma once
// The pixel-flipping engine: curves for many (relevance, order) jobs on many images, the
// forward passes of all their steps batched, and no image forwarded twice.
#include <ATen/core/Tensor.h>

#include <vector>

#include "model/network.h"
#include "perturbation/modes.h"
#include "perturbation/order.h"
#include "perturbation/settings.h"

namespace lrpbench {

struct PFJob {
  Order order = Order::Morf;
  at::Tensor relevance;  // C x H x W like the image (ignored for the random order)
};

struct PFImageJobs {
  const ImageContext* image = nullptr;
  int64_t target = 0;
  std::vector<PFJob> jobs;
};

struct PFCurve {
  std::vector<double> scores;    // one per point: step 0 .. K (and the thesis's final step)
  std::vector<int64_t> flipped;  // patches flipped at each point
  std::vector<double> fraction;  // flipped / N
};

struct PFStats {
  int64_t points = 0;    // curve points requested (repeated points excluded)
  int64_t forwards = 0;  // images rendered and forwarded (cache misses)
  int64_t hits() const { return points - forwards; }
};

struct PFOutcome {
  std::vector<std::vector<PFCurve>> curves;  // [image][job]
  PFStats stats;
};

// The patches flipped at each step of a job (K steps).
std::vector<std::vector<int64_t>> job_steps(const ImageContext& ctx, const PFJob& job,
                                            const PFSettings& s);

// Scores every job. Unique images are rendered (in parallel) and forwarded in batches of
// s.batch in a fixed order, so the same call gives bitwise-identical curves. With
// s.cache = false every point is rendered and forwarded on its own (for comparison).
PFOutcome score_curves(const Network& net, const std::vector<PFImageJobs>& work,
                       const PFSettings& s);

}  // namespace lrpbench

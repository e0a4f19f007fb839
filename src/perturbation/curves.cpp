#include "perturbation/curves.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <unordered_map>

#include "util/error.h"

namespace lrpbench {
namespace {

// A point to render: the image and the steps applied (a prefix of a job's steps).
struct Request {
  size_t image = 0, job = 0;
  size_t steps = 0;  // how many of the job's steps are applied
  bool minmax = false;
};

// Cache keys. Inpainting and constant fills depend only on the set of flipped patches;
// the random modes also on how the patches were grouped into steps (one draw per step).
class KeyBuilder {
 public:
  KeyBuilder(size_t image, int64_t patches, bool sequence)
      : sequence_(sequence), bits_(static_cast<size_t>((patches + 7) / 8), '\0') {
    prefix_.assign(reinterpret_cast<const char*>(&image), sizeof image);
  }
  void add_step(const std::vector<int64_t>& patches) {
    if (sequence_) {
      std::vector<int32_t> sorted(patches.begin(), patches.end());
      std::sort(sorted.begin(), sorted.end());
      seq_.append(reinterpret_cast<const char*>(sorted.data()), sorted.size() * sizeof(int32_t));
      seq_.append("\xff\xff\xff\xff", 4);
    } else {
      for (int64_t p : patches)
        bits_[static_cast<size_t>(p / 8)] |= static_cast<char>(1 << (p % 8));
    }
  }
  std::string key() const { return prefix_ + (sequence_ ? seq_ : bits_); }

 private:
  bool sequence_;
  std::string prefix_, bits_, seq_;
};

}  // namespace

std::vector<std::vector<int64_t>> job_steps(const ImageContext& ctx, const PFJob& job,
                                            const PFSettings& s) {
  std::vector<double> scores(static_cast<size_t>(ctx.grid.count()), 0.0);
  if (job.order != Order::Random) {
    require(job.relevance.defined() && job.relevance.sizes() == ctx.x.sizes(),
            "relevance shape " +
                (job.relevance.defined() ? std::string(c10::str(job.relevance.sizes())) : "none") +
                " differs from the input's " + std::string(c10::str(ctx.x.sizes())));
    scores = patch_scores(job.relevance, ctx.grid, s.reduce);
  }
  const std::vector<int64_t> order = flip_order(job.order, scores, s.seed, ctx.image_index);
  std::vector<std::vector<int64_t>> steps;
  size_t pos = 0;
  for (int64_t n : step_counts(s.schedule, ctx.grid.count())) {
    steps.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(pos),
                       order.begin() + static_cast<std::ptrdiff_t>(pos + static_cast<size_t>(n)));
    pos += static_cast<size_t>(n);
  }
  return steps;
}

PFOutcome score_curves(const Network& net, const std::vector<PFImageJobs>& work,
                       const PFSettings& s) {
  s.check();
  const bool inpainting = s.mode == "telea" || s.mode == "ns";
  const bool sequence = s.mode == "random" || s.mode == "random-pixel";
  PFOutcome out;
  out.curves.resize(work.size());
  // Steps of every job, and for every curve point the unique request it reads.
  std::vector<std::vector<std::vector<std::vector<int64_t>>>> steps(work.size());
  std::vector<std::vector<std::vector<int64_t>>> point_ids(work.size());  // -1: repeat previous
  std::vector<Request> requests;
  std::unordered_map<std::string, int64_t> cache;
  std::vector<std::pair<size_t, size_t>> group_starts;  // (image, first request): batch cuts
  auto request = [&](const std::string& key, const Request& r) -> int64_t {
    ++out.stats.points;
    if (s.cache) {
      auto it = cache.find(key);
      if (it != cache.end()) return it->second;
      cache.emplace(key, static_cast<int64_t>(requests.size()));
    }
    requests.push_back(r);
    return static_cast<int64_t>(requests.size()) - 1;
  };
  for (size_t i = 0; i < work.size(); ++i) {
    const ImageContext& ctx = *work[i].image;
    const int64_t n = ctx.grid.count();
    steps[i].resize(work[i].jobs.size());
    point_ids[i].resize(work[i].jobs.size());
    out.curves[i].resize(work[i].jobs.size());
    // Random-order jobs first, in batches of their own: their curves then never depend on
    // the other jobs (every configuration's random-order curve is bitwise the same).
    std::vector<size_t> job_order;
    for (int pass = 0; pass < 2; ++pass)
      for (size_t j = 0; j < work[i].jobs.size(); ++j)
        if ((work[i].jobs[j].order == Order::Random) == (pass == 0)) job_order.push_back(j);
    bool random_group = true;
    for (size_t j : job_order) {
      const bool is_random = work[i].jobs[j].order == Order::Random;
      if (group_starts.empty() || group_starts.back().first != i || random_group != is_random)
        group_starts.push_back({i, requests.size()});
      random_group = is_random;
      steps[i][j] = job_steps(ctx, work[i].jobs[j], s);
      const auto& st = steps[i][j];
      PFCurve& curve = out.curves[i][j];
      std::vector<int64_t>& ids = point_ids[i][j];
      KeyBuilder kb(i, n, sequence);
      int64_t flipped = 0;
      for (size_t k = 0; k <= st.size(); ++k) {
        if (k > 0) {
          kb.add_step(st[k - 1]);
          flipped += static_cast<int64_t>(st[k - 1].size());
        }
        curve.flipped.push_back(flipped);
        curve.fraction.push_back(static_cast<double>(flipped) / static_cast<double>(n));
        const bool full = k == st.size();
        if (full && inpainting && s.full_mask == "repeat") {
          ids.push_back(-1);
          continue;
        }
        ids.push_back(request(kb.key(), {i, j, k, false}));
      }
      if (s.final_step == "minmax-mid") {
        curve.flipped.push_back(n);
        curve.fraction.push_back(1.0);
        std::string key(reinterpret_cast<const char*>(&i), sizeof i);
        ids.push_back(request(key + "minmax", {i, j, 0, true}));
      }
    }
  }
  out.stats.forwards = static_cast<int64_t>(requests.size());

  // Render and forward the unique images in fixed batches.
  std::vector<double> values(requests.size());
  const at::Device device = net.device();
  c10::InferenceMode guard;
  std::vector<std::pair<size_t, size_t>> batches;
  for (size_t g = 0; g < group_starts.size(); ++g) {
    const size_t end = g + 1 < group_starts.size() ? group_starts[g + 1].second : requests.size();
    for (size_t b = group_starts[g].second; b < end; b += static_cast<size_t>(s.batch))
      batches.push_back({b, std::min(end, b + static_cast<size_t>(s.batch))});
  }
  for (const auto& [b0, b1] : batches) {
    if (b0 == b1) continue;
    std::vector<at::Tensor> imgs(b1 - b0);
    at::parallel_for(
        static_cast<int64_t>(b0), static_cast<int64_t>(b1), 1, [&](int64_t lo, int64_t hi) {
          for (int64_t q = lo; q < hi; ++q) {
            const Request& r = requests[static_cast<size_t>(q)];
            const ImageContext& ctx = *work[r.image].image;
            if (r.minmax) {
              imgs[static_cast<size_t>(q) - b0] = render_minmax_mid(ctx);
            } else {
              imgs[static_cast<size_t>(q) - b0] = render(ctx, s, steps[r.image][r.job], r.steps);
            }
          }
        });
    // Batches run channels-last: oneDNN's conv stack is ~25% faster so (VGG-16, CPU).
    const at::Tensor logits =
        forward(net, at::stack(imgs).to(device).contiguous(at::MemoryFormat::ChannelsLast))
            .to(at::kCPU)
            .to(at::kDouble);
    const at::Tensor vals = s.score == "prob" ? logits.softmax(1) : logits;
    for (size_t q = b0; q < b1; ++q)
      values[q] = vals[static_cast<int64_t>(q - b0)][work[requests[q].image].target].item<double>();
  }

  for (size_t i = 0; i < work.size(); ++i)
    for (size_t j = 0; j < work[i].jobs.size(); ++j) {
      PFCurve& curve = out.curves[i][j];
      for (int64_t id : point_ids[i][j])
        curve.scores.push_back(id < 0 ? curve.scores.back() : values[static_cast<size_t>(id)]);
    }
  return out;
}

}  // namespace lrpbench

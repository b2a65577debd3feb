#include "agent/metrics/family.h"

#include <charconv>
#include <cmath>

#include "agent/metrics/exposition.h"
#include "common/base/strings.h"

namespace nw::metrics {
namespace {

// A bucket bound as the `le` label: fixed notation where it is readable
// ("0.0005", not format_double's shorter "5e-04"), as other clients write
// it, so dashboards that match le="0.0005" work.
std::string format_le(double v) {
  double a = std::fabs(v);
  if (v != 0 && (a < 1e-4 || a >= 1e21)) return format_double(v);
  char buf[64];
  auto [end, ec] =
      std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc()) return format_double(v);
  return std::string(buf, end);
}

std::vector<std::string> le_values(const std::vector<double>& bounds) {
  std::vector<std::string> out;
  out.reserve(bounds.size() + 1);
  for (double b : bounds) out.push_back(format_le(b));
  out.push_back("+Inf");
  return out;
}

template <class F>
void render_simple(const F& family, std::string& out, std::string body) {
  if (body.empty()) return;
  append_header(out, family.name(), family.help(), family.type());
  out += body;
}

}  // namespace

void CounterFamily::render(std::string& out) const {
  std::string body;
  for_each_child([&](const std::vector<std::string>& values, const Counter& c) {
    append_sample(body, name(), label_names(), values,
                  format_double(c.value()));
  });
  render_simple(*this, out, std::move(body));
}

void GaugeFamily::render(std::string& out) const {
  std::string body;
  for_each_child([&](const std::vector<std::string>& values, const Gauge& g) {
    append_sample(body, name(), label_names(), values,
                  format_double(g.value()));
  });
  render_simple(*this, out, std::move(body));
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names,
                                 std::vector<double> bounds)
    : Family(std::move(name), std::move(help), MetricType::histogram,
             std::move(label_names)),
      bounds_(std::move(bounds)),
      le_values_(le_values(bounds_)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    NW_ASSERT(std::isfinite(bounds_[i]), "histogram bucket bound not finite");
    NW_ASSERT(i == 0 || bounds_[i - 1] < bounds_[i],
              "histogram bucket bounds not strictly increasing");
  }
}

void HistogramFamily::render(std::string& out) const {
  std::string body;
  const std::string bucket_name = name() + "_bucket";
  const std::string sum_name = name() + "_sum";
  const std::string count_name = name() + "_count";
  for_each_child([&](const std::vector<std::string>& values,
                     const Histogram& h) {
    Histogram::Snapshot s = h.snapshot();
    for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
      ExtraLabel le{"le", le_values_[i]};
      append_sample(body, bucket_name, label_names(), values,
                    std::to_string(s.cumulative[i]), &le);
    }
    append_sample(body, sum_name, label_names(), values, format_double(s.sum));
    append_sample(body, count_name, label_names(), values,
                  std::to_string(s.count));
  });
  render_simple(*this, out, std::move(body));
}

}  // namespace nw::metrics

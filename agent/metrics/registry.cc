#include "agent/metrics/registry.h"

#include <algorithm>

#include "agent/metrics/exposition.h"
#include "common/base/assert.h"
#include "common/base/log.h"
#include "common/base/strings.h"

namespace nw::metrics {
namespace {

// NW_ASSERT with the metric's name in the log, since the assertion message
// itself is a fixed string.
void check(bool ok, const char* what, std::string_view name) {
  if (ok) return;
  log::Logger("metrics").error("metric misuse",
                               {{"metric", name}, {"problem", what}});
  NW_ASSERT(ok, what);
}

void check_label_names(std::string_view metric,
                       const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    check(valid_label_name(names[i]), "invalid label name", metric);
    for (std::size_t j = 0; j < i; ++j) {
      check(names[i] != names[j], "duplicate label name", metric);
    }
  }
}

// The samples of collectors, grouped by family name, in collection order.
struct CollectedFamily {
  std::string help;
  MetricType type;
  std::vector<const Sample*> samples;
};

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

template <class F, class... Args>
F& Registry::get_or_add(std::string_view name, std::string_view help,
                        MetricType type, std::vector<std::string> label_names,
                        Args&&... args) {
  check(valid_metric_name(name), "invalid metric name", name);
  check_label_names(name, label_names);
  std::lock_guard lock(families_mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    FamilyBase& existing = *it->second;
    check(existing.type() == type, "metric registered again with another type",
          name);
    check(existing.label_names() == label_names,
          "metric registered again with other label names", name);
    return static_cast<F&>(existing);
  }
  auto family =
      std::make_unique<F>(std::string(name), std::string(help),
                          std::move(label_names), std::forward<Args>(args)...);
  F& ref = *family;
  // A family without labels has exactly one child; create it now so the
  // metric is exported (as 0) before its first update.
  if (ref.label_names().empty()) ref.with();
  families_.emplace(std::string(name), std::move(family));
  return ref;
}

CounterFamily& Registry::counter(std::string_view name, std::string_view help,
                                 std::vector<std::string> label_names) {
  return get_or_add<CounterFamily>(name, help, MetricType::counter,
                                   std::move(label_names));
}

GaugeFamily& Registry::gauge(std::string_view name, std::string_view help,
                             std::vector<std::string> label_names) {
  return get_or_add<GaugeFamily>(name, help, MetricType::gauge,
                                 std::move(label_names));
}

HistogramFamily& Registry::histogram(std::string_view name,
                                     std::string_view help,
                                     std::vector<std::string> label_names,
                                     std::vector<double> buckets) {
  for (const auto& l : label_names) {
    check(l != "le", "\"le\" is reserved in histograms", name);
  }
  std::vector<double> wanted = buckets;
  HistogramFamily& h =
      get_or_add<HistogramFamily>(name, help, MetricType::histogram,
                                  std::move(label_names), std::move(buckets));
  check(h.bounds() == wanted, "histogram registered again with other buckets",
        name);
  return h;
}

CollectorId Registry::add_collector(Collector collector) {
  NW_ASSERT(collector != nullptr, "add_collector with an empty function");
  std::unique_lock lock(collectors_mu_);
  CollectorId id = next_collector_id_++;
  collectors_.emplace(id, std::move(collector));
  return id;
}

void Registry::remove_collector(CollectorId id) {
  std::unique_lock lock(collectors_mu_);
  collectors_.erase(id);
}

std::string Registry::render() const {
  // Registered families: pointers are stable, so copy them and let
  // registration go on while formatting.
  std::vector<const FamilyBase*> registered;
  {
    std::lock_guard lock(families_mu_);
    registered.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      registered.push_back(family.get());
    }
  }

  std::vector<Sample> samples;
  {
    std::shared_lock lock(collectors_mu_);
    for (const auto& [id, collect] : collectors_) collect(samples);
  }
  std::map<std::string_view, CollectedFamily> collected;
  for (const Sample& s : samples) {
    check(valid_metric_name(s.name), "invalid collected metric name", s.name);
    check(s.type != MetricType::histogram,
          "collectors report counters and gauges only", s.name);
    auto [it, inserted] =
        collected.try_emplace(s.name, CollectedFamily{s.help, s.type, {}});
    check(it->second.type == s.type,
          "collected samples of one name have different types", s.name);
    it->second.samples.push_back(&s);
  }

  // One block per family, then all blocks in name order.
  std::vector<std::pair<std::string_view, std::string>> blocks;
  blocks.reserve(registered.size() + collected.size());
  for (const FamilyBase* f : registered) {
    check(collected.find(f->name()) == collected.end(),
          "a collector reports a registered metric's name", f->name());
    std::string text;
    f->render(text);
    if (!text.empty()) blocks.emplace_back(f->name(), std::move(text));
  }
  for (const auto& [name, family] : collected) {
    std::string text;
    append_header(text, name, family.help, family.type);
    for (const Sample* s : family.samples) {
      for (const auto& [label, value] : s->labels) {
        check(valid_label_name(label), "invalid collected label name", name);
      }
      append_sample(text, name, s->labels, format_double(s->value));
    }
    blocks.emplace_back(name, std::move(text));
  }
  std::sort(blocks.begin(), blocks.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string out;
  for (const auto& [name, text] : blocks) out += text;
  return out;
}

}  // namespace nw::metrics

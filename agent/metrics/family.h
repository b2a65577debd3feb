#pragma once

#include <algorithm>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/metrics/metric.h"
#include "common/base/assert.h"

namespace nw::metrics {

// Orders label-value lists (vector<string>, span<string_view>, ...)
// lexicographically, so children can be found without building a key.
struct LabelValuesLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

// What every family has: a name, help text, a type and fixed label names.
//
// Lifecycle: created by Registry on first registration, destroyed with it.
// Threads: the accessors read immutable fields; render() may run on any
// thread, concurrently with children being added and updated.
class FamilyBase {
 public:
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends the family in the text format (HELP, TYPE, one or more lines per
  // child, children ordered by label values); nothing when it has none.
  virtual void render(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// A family of children of one kind, one per combination of label values:
//   auto& c = registry.counter("nw_http_requests_total", "...",
//                              {"route", "method", "code"});
//   c.with({"/v1/status", "GET", "200"}).inc();
//
// Lifecycle: children are created on first use and never removed, so the
// reference with() returns stays valid for the Registry's lifetime; cache it
// on hot paths. Threads: any. with() takes a shared lock to find an existing
// child and an exclusive one only to add a new child.
template <class Child>
class Family : public FamilyBase {
 public:
  // The child for these label values, created on first use.
  // REQUIRES: as many values as the family has label names (NW_ASSERT).
  Child& with(std::initializer_list<std::string_view> values) {
    return get(
        std::span<const std::string_view>(values.begin(), values.size()));
  }
  Child& with(std::span<const std::string> values) { return get(values); }
  // The only child of a family without labels.
  Child& with() { return with({}); }

 protected:
  using FamilyBase::FamilyBase;

  virtual std::unique_ptr<Child> new_child() const = 0;

  // Calls fn(label_values, child) for each child in label order, under the
  // shared lock (fn must not call with()).
  template <class F>
  void for_each_child(F&& fn) const {
    std::shared_lock lock(mu_);
    for (const auto& [values, child] : children_) fn(values, *child);
  }

 private:
  template <class Values>
  Child& get(const Values& values) {
    NW_ASSERT(values.size() == label_names().size(),
              "metric used with the wrong number of label values");
    {
      std::shared_lock lock(mu_);
      auto it = children_.find(values);
      if (it != children_.end()) return *it->second;
    }
    std::unique_lock lock(mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
    std::vector<std::string> key(values.begin(), values.end());
    auto [pos, inserted] = children_.emplace(std::move(key), new_child());
    return *pos->second;
  }

  mutable std::shared_mutex mu_;
  // Guarded by mu_. Values are never erased (references are handed out).
  std::map<std::vector<std::string>, std::unique_ptr<Child>, LabelValuesLess>
      children_;
};

class CounterFamily final : public Family<Counter> {
 public:
  CounterFamily(std::string name, std::string help,
                std::vector<std::string> label_names)
      : Family(std::move(name), std::move(help), MetricType::counter,
               std::move(label_names)) {}
  void render(std::string& out) const override;

 protected:
  std::unique_ptr<Counter> new_child() const override {
    return std::make_unique<Counter>();
  }
};

class GaugeFamily final : public Family<Gauge> {
 public:
  GaugeFamily(std::string name, std::string help,
              std::vector<std::string> label_names)
      : Family(std::move(name), std::move(help), MetricType::gauge,
               std::move(label_names)) {}
  void render(std::string& out) const override;

 protected:
  std::unique_ptr<Gauge> new_child() const override {
    return std::make_unique<Gauge>();
  }
};

// Renders `<name>_bucket{...,le="..."}` (cumulative, ending with +Inf),
// `<name>_sum` and `<name>_count` per child.
class HistogramFamily final : public Family<Histogram> {
 public:
  // REQUIRES: bounds strictly increasing and finite.
  HistogramFamily(std::string name, std::string help,
                  std::vector<std::string> label_names,
                  std::vector<double> bounds);
  const std::vector<double>& bounds() const { return bounds_; }
  void render(std::string& out) const override;

 protected:
  std::unique_ptr<Histogram> new_child() const override {
    return std::make_unique<Histogram>(bounds_);
  }

 private:
  const std::vector<double> bounds_;
  const std::vector<std::string> le_values_;  // bounds_ as `le` text, +Inf
};

}  // namespace nw::metrics

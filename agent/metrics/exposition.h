#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/metrics/metric.h"

// The Prometheus text exposition format, version 0.0.4: the pieces every
// family renders itself with. Pure functions; safe from any thread.
namespace nw::metrics {

// The Content-Type of a /metrics response in this format.
inline constexpr std::string_view kContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus).
bool valid_label_name(std::string_view name);

// Appends a label value with backslash, double quote and newline escaped.
void append_label_value(std::string& out, std::string_view value);
// Appends HELP text with backslash and newline escaped.
void append_help_text(std::string& out, std::string_view help);

// "# HELP name help\n# TYPE name type\n".
void append_header(std::string& out, std::string_view name,
                   std::string_view help, MetricType type);

// One extra label appended after a child's own (histograms' `le`).
struct ExtraLabel {
  std::string_view name;
  std::string_view value;
};

// `name{a="1",b="2"} value\n`; no braces when there are no labels.
// REQUIRES: names.size() == values.size().
void append_sample(std::string& out, std::string_view name,
                   std::span<const std::string> names,
                   std::span<const std::string> values, std::string_view value,
                   const ExtraLabel* extra = nullptr);
// The same, with labels as (name, value) pairs.
void append_sample(
    std::string& out, std::string_view name,
    const std::vector<std::pair<std::string, std::string>>& labels,
    std::string_view value);

}  // namespace nw::metrics

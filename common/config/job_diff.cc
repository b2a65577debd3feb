#include "common/config/job_diff.h"

#include <algorithm>
#include <map>

#include "common/base/strings.h"

namespace nw::config {
namespace {

constexpr std::string_view kUnset = "(unset)";

std::vector<FieldChange> field_changes(const JobSpec& a, const JobSpec& b) {
  auto fa = job_fields(a);
  auto fb = job_fields(b);
  std::map<std::string, std::string> old_values(fa.begin(), fa.end());
  std::map<std::string, std::string> new_values(fb.begin(), fb.end());
  // Keys in docs order: b's order, with keys only in a (a removed env
  // variable) put after the key that precedes them in a.
  std::vector<std::string> order;
  for (const auto& [k, v] : fb) order.push_back(k);
  for (size_t i = 0; i < fa.size(); ++i) {
    const std::string& k = fa[i].first;
    if (new_values.count(k) != 0) continue;
    auto at = order.begin();
    if (i > 0) {
      auto prev = std::find(order.begin(), order.end(), fa[i - 1].first);
      at = prev == order.end() ? order.end() : prev + 1;
    }
    order.insert(at, k);
  }
  std::vector<FieldChange> out;
  for (const std::string& k : order) {
    auto o = old_values.find(k);
    auto n = new_values.find(k);
    std::string ov = o == old_values.end() ? std::string(kUnset) : o->second;
    std::string nv = n == new_values.end() ? std::string(kUnset) : n->second;
    if (ov != nv) out.push_back({k, ov, nv});
  }
  return out;
}

}  // namespace

JobDiff diff_jobs(const std::vector<JobSpec>& current,
                  const std::vector<JobSpec>& wanted, bool prune) {
  std::map<std::string, const JobSpec*> have;
  for (const JobSpec& j : current) have[j.name] = &j;
  std::map<std::string, const JobSpec*> want;
  for (const JobSpec& j : wanted) want[j.name] = &j;
  JobDiff d;
  for (const auto& [name, spec] : want) {
    auto it = have.find(name);
    if (it == have.end()) {
      d.added.push_back(name);
    } else if (*it->second == *spec) {
      d.unchanged.push_back(name);
    } else {
      d.changed.push_back({name, field_changes(*it->second, *spec)});
    }
  }
  for (const auto& [name, spec] : have) {
    if (want.count(name) != 0) continue;
    (prune ? d.removed : d.kept).push_back(name);
  }
  return d;
}

std::string render_diff(const JobDiff& d) {
  std::string out;
  for (const std::string& name : d.added) out += "+ job " + name + "\n";
  for (const JobChange& c : d.changed) {
    out += "~ job " + c.name + "\n";
    for (const FieldChange& f : c.fields) {
      out += "    " + f.key + ": " + f.old_value + " -> " + f.new_value + "\n";
    }
  }
  for (const std::string& name : d.removed) out += "- job " + name + "\n";
  out += "plan: " + std::to_string(d.added.size()) + " to add, " +
         std::to_string(d.changed.size()) + " to change, " +
         std::to_string(d.removed.size()) + " to remove, " +
         std::to_string(d.unchanged.size()) + " unchanged";
  if (!d.kept.empty()) {
    out +=
        "; " + std::to_string(d.kept.size()) +
        " not in the files, kept (--prune removes them): " + join(d.kept, ", ");
  }
  out += "\n";
  return out;
}

}  // namespace nw::config

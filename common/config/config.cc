#include "common/config/config.h"

#include "common/config/key_table.h"

// Everything here goes through the key table (key_table.cc), so a key added
// there is settable by flag, readable, diffed and validated with no change
// to this file. The TOML side is in toml_parse.cc, the example in example.cc.
namespace nw::config {
namespace {

std::string_view strip_dashes(std::string_view name) {
  while (!name.empty() && name.front() == '-') name.remove_prefix(1);
  return name;
}

const detail::KeyOps* find_any(std::string_view name) {
  name = strip_dashes(name);
  for (const detail::KeyOps& op : detail::key_ops()) {
    if (op.info.key == name || op.info.flag == name) return &op;
    for (const std::string& alias : op.info.aliases) {
      if (alias == name) return &op;
    }
  }
  return nullptr;
}

Error with_prefix(Error e, const std::string& prefix) {
  e.message = prefix + ": " + e.message;
  return e;
}

}  // namespace

const std::vector<KeyInfo>& keys() {
  static const std::vector<KeyInfo>* infos = [] {
    auto* v = new std::vector<KeyInfo>;
    for (const detail::KeyOps& op : detail::key_ops()) v->push_back(op.info);
    return v;
  }();
  return *infos;
}

const KeyInfo* find_key(std::string_view key) {
  const detail::KeyOps* op = find_any(key);
  if (op == nullptr) return nullptr;
  // keys() is built in key_ops() order, so the index carries over.
  return &keys()[static_cast<size_t>(op - detail::key_ops().data())];
}

Status set_key(AgentConfig& cfg, std::string_view key_or_flag,
               std::string_view value) {
  std::string_view name = strip_dashes(key_or_flag);
  const detail::KeyOps* op = find_any(name);
  if (op == nullptr) {
    std::vector<std::string> flags;
    for (const detail::KeyOps& o : detail::key_ops()) {
      flags.push_back(o.info.flag);
      for (const std::string& a : o.info.aliases) flags.push_back(a);
    }
    std::string near = detail::closest(name, flags);
    return Error(Code::invalid_argument,
                 "--" + std::string(name) + ": unknown option" +
                     (near.empty() ? "" : "; did you mean --" + near + "?"),
                 "see nwagent --help for every option", "config");
  }
  // A dotted key is reported as its flag; a flag or alias as typed.
  std::string flag =
      "--" + (name == op->info.key ? op->info.flag : std::string(name));
  AgentConfig next = cfg;
  Status s = op->set(next, value);
  if (s.ok() && op->check != nullptr) s = op->check(next);
  if (!s.ok()) return with_prefix(std::move(s).error(), flag);
  cfg = std::move(next);
  return ok_status();
}

std::string get_key(const AgentConfig& cfg, std::string_view key) {
  const detail::KeyOps* op = find_any(key);
  return op == nullptr ? std::string() : op->get(cfg);
}

Status validate(const AgentConfig& cfg) {
  for (const detail::KeyOps& op : detail::key_ops()) {
    if (op.check == nullptr) continue;
    Status s = op.check(cfg);
    if (!s.ok()) return with_prefix(std::move(s).error(), op.info.key);
  }
  return ok_status();
}

std::vector<Change> diff(const AgentConfig& a, const AgentConfig& b) {
  std::vector<Change> out;
  for (const detail::KeyOps& op : detail::key_ops()) {
    std::string old_value = op.get(a);
    std::string new_value = op.get(b);
    if (old_value != new_value) {
      out.push_back(Change{op.info.key, std::move(old_value),
                           std::move(new_value), op.info.live});
    }
  }
  return out;
}

AgentConfig dev_defaults() {
  AgentConfig cfg;
  cfg.data_dir = "./.nightwatch";
  cfg.api.listen = HostPort{"127.0.0.1", 7070};
  return cfg;
}

}  // namespace nw::config

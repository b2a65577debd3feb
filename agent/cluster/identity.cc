#include "agent/cluster/identity.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "agent/state/file_util.h"

namespace nw::cluster {
namespace {

constexpr std::string_view kFileName = "cluster.json";

Error corrupt(const std::string& what) {
  return Error(Code::corruption, "cluster.json: " + what,
               "the file is written atomically, so this is damage from "
               "outside; restore it from a backup, or wipe the data "
               "directory and join the cluster again",
               "cluster");
}

}  // namespace

std::string link_id(std::string_view node_id, std::uint64_t raft_id) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(raft_id));
  return std::string(node_id) + "@" + hex;
}

std::uint64_t random_id() {
  std::random_device rd;
  std::uint64_t id = 0;
  while (id == 0) {
    id = (std::uint64_t{rd()} << 32) ^ std::uint64_t{rd()};
  }
  return id;
}

raft::Membership Identity::initial_membership() const {
  raft::Membership m;
  for (std::uint64_t v : initial_voters) m.voters.insert(raft::NodeId(v));
  return m;
}

std::string Identity::encode() const {
  nlohmann::json peers_json = nlohmann::json::array();
  for (const KnownPeer& p : peers) {
    peers_json.push_back({{"node_id", p.node_id},
                          {"raft_id", p.raft_id},
                          {"peer_addr", p.peer_addr}});
  }
  nlohmann::json j = {
      {"format", kFormat},        {"raft_id", raft_id},
      {"cluster_id", cluster_id}, {"initial_voters", initial_voters},
      {"peers", peers_json},      {"removed", removed}};
  return j.dump(2) + "\n";
}

Result<Identity> Identity::decode(std::string_view text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) return corrupt("not a JSON object");
    const int format = j.at("format").get<int>();
    if (format != kFormat) {
      return corrupt("unknown format " + std::to_string(format) +
                     " (this nwagent reads " + std::to_string(kFormat) + ")");
    }
    Identity id;
    id.raft_id = j.at("raft_id").get<std::uint64_t>();
    if (id.raft_id == 0) return corrupt("raft_id is 0");
    id.cluster_id = j.at("cluster_id").get<std::string>();
    id.initial_voters =
        j.at("initial_voters").get<std::vector<std::uint64_t>>();
    for (const auto& p : j.at("peers")) {
      id.peers.push_back(KnownPeer{p.at("node_id").get<std::string>(),
                                   p.at("raft_id").get<std::uint64_t>(),
                                   p.at("peer_addr").get<std::string>()});
    }
    id.removed = j.value("removed", false);
    return id;
  } catch (const std::exception& e) {
    return corrupt(e.what());
  }
}

Result<Identity> Identity::load_or_create(const std::string& data_dir) {
  NW_ASSIGN_OR_RETURN(
      std::optional<std::string> text,
      state::read_file_if_exists(data_dir + "/" + std::string(kFileName)));
  if (text) return decode(*text);
  Identity id;
  id.raft_id = random_id();
  NW_RETURN_IF_ERROR(id.save(data_dir));
  return id;
}

Status Identity::save(const std::string& data_dir) const {
  return state::write_file_atomically(data_dir, kFileName, encode());
}

}  // namespace nw::cluster

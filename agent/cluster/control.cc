#include "agent/cluster/control.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace nw::cluster {
namespace {

constexpr std::string_view kTypes[] = {"info",    "join",         "join_resp",
                                       "propose", "propose_resp", "removed",
                                       "ping",    "pong"};
constexpr int kTypeCount = sizeof kTypes / sizeof kTypes[0];

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Result<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Error(Code::invalid_argument, "control: odd hex length");
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return Error(Code::invalid_argument, "control: bad hex digit");
    }
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

nlohmann::json peer_json(const KnownPeer& p) {
  return {{"node_id", p.node_id},
          {"raft_id", p.raft_id},
          {"peer_addr", p.peer_addr}};
}

KnownPeer peer_from(const nlohmann::json& j) {
  return KnownPeer{j.at("node_id").get<std::string>(),
                   j.at("raft_id").get<std::uint64_t>(),
                   j.at("peer_addr").get<std::string>()};
}

}  // namespace

std::string make_cluster_id(std::uint64_t seed) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "c-%016llx",
                static_cast<unsigned long long>(seed));
  return buf;
}

std::string encode_control(const ControlMessage& m) {
  nlohmann::json peers = nlohmann::json::array();
  for (const KnownPeer& p : m.peers) peers.push_back(peer_json(p));
  nlohmann::json j = {{"t", kTypes[static_cast<int>(m.type)]},
                      {"req", m.req},
                      {"self", peer_json(m.self)},
                      {"api_addr", m.api_addr},
                      {"expect", m.expect},
                      {"cluster_id", m.cluster_id},
                      {"initial_voters", m.initial_voters},
                      {"peers", peers},
                      {"code", m.code},
                      {"message", m.message},
                      {"hint", m.hint},
                      {"leader", m.leader},
                      {"leader_peer_addr", m.leader_peer_addr},
                      {"data", to_hex(m.data)},
                      {"wall_us", m.wall_us}};
  return j.dump();
}

Result<ControlMessage> decode_control(std::string_view bytes) {
  try {
    const nlohmann::json j = nlohmann::json::parse(bytes);
    ControlMessage m;
    const std::string t = j.at("t").get<std::string>();
    bool known = false;
    for (int i = 0; i < kTypeCount; ++i) {
      if (t == kTypes[i]) {
        m.type = static_cast<ControlType>(i);
        known = true;
      }
    }
    if (!known) {
      return Error(Code::invalid_argument, "control: unknown type " + t);
    }
    m.req = j.at("req").get<std::uint64_t>();
    m.self = peer_from(j.at("self"));
    m.api_addr = j.at("api_addr").get<std::string>();
    m.expect = j.at("expect").get<int>();
    m.cluster_id = j.at("cluster_id").get<std::string>();
    m.initial_voters = j.at("initial_voters").get<std::vector<std::uint64_t>>();
    for (const auto& p : j.at("peers")) m.peers.push_back(peer_from(p));
    m.code = j.at("code").get<std::string>();
    m.message = j.at("message").get<std::string>();
    m.hint = j.at("hint").get<std::string>();
    m.leader = j.at("leader").get<std::string>();
    m.leader_peer_addr = j.at("leader_peer_addr").get<std::string>();
    NW_ASSIGN_OR_RETURN(m.data, from_hex(j.at("data").get<std::string>()));
    // Added with ping/pong: older agents do not send it.
    if (auto it = j.find("wall_us"); it != j.end()) {
      if (!it->is_number_integer()) {
        return Error(Code::invalid_argument,
                     "control: \"wall_us\" must be an integer");
      }
      m.wall_us = it->get<std::int64_t>();
    }
    return m;
  } catch (const std::exception& e) {
    return Error(Code::invalid_argument,
                 std::string("control: malformed message: ") + e.what());
  }
}

}  // namespace nw::cluster

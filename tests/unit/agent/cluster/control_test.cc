// The control messages of the cluster service (agent/cluster/control.h):
// round trips, and hostile bytes that must be refused without a throw.
#include "agent/cluster/control.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace nw::cluster {
namespace {

ControlMessage sample() {
  ControlMessage m;
  m.type = ControlType::join_resp;
  m.req = 42;
  m.self = KnownPeer{"n1", 7, "127.0.0.1:7071"};
  m.api_addr = "127.0.0.1:7070";
  m.expect = 3;
  m.cluster_id = "c-0000000000000001";
  m.initial_voters = {7, 8, 9};
  m.peers = {KnownPeer{"n2", 8, "127.0.0.1:7171"}};
  m.code = "conflict";
  m.message = "node id n2 is taken";
  m.hint = "pick another";
  m.leader = "n1@0000000000000007";
  m.leader_peer_addr = "127.0.0.1:7071";
  m.data = std::string("\x00\x01\xff binary", 10);
  m.wall_us = 1764600000123456;
  return m;
}

TEST_SUITE("cluster.control") {
  TEST_CASE("round_trip.every_field") {
    const ControlMessage m = sample();
    Result<ControlMessage> d = decode_control(encode_control(m));
    REQUIRE(d.ok());
    CHECK(d->type == m.type);
    CHECK(d->req == m.req);
    CHECK(d->self == m.self);
    CHECK(d->api_addr == m.api_addr);
    CHECK(d->expect == m.expect);
    CHECK(d->cluster_id == m.cluster_id);
    CHECK(d->initial_voters == m.initial_voters);
    CHECK(d->peers == m.peers);
    CHECK(d->code == m.code);
    CHECK(d->message == m.message);
    CHECK(d->hint == m.hint);
    CHECK(d->leader == m.leader);
    CHECK(d->leader_peer_addr == m.leader_peer_addr);
    CHECK(d->data == m.data);
    CHECK(d->wall_us == m.wall_us);
  }

  TEST_CASE("round_trip.every_type") {
    for (ControlType t :
         {ControlType::info, ControlType::join, ControlType::join_resp,
          ControlType::propose, ControlType::propose_resp, ControlType::removed,
          ControlType::ping, ControlType::pong}) {
      ControlMessage m;
      m.type = t;
      Result<ControlMessage> d = decode_control(encode_control(m));
      REQUIRE(d.ok());
      CHECK(d->type == t);
    }
  }

  TEST_CASE("decode.refuses_hostile_bytes") {
    const std::string good = encode_control(sample());
    for (const std::string& bad :
         {std::string(), std::string("{"), std::string("[]"),
          std::string("null"), std::string("{\"t\":\"info\"}"),
          std::string("{\"t\":\"nope\",\"req\":1}"), good.substr(0, 40),
          std::string("\xff\xfe\x00", 3)}) {
      CAPTURE(bad);
      Result<ControlMessage> d = decode_control(bad);
      CHECK_FALSE(d.ok());
      if (!d.ok()) CHECK(d.error().code == Code::invalid_argument);
    }
    // Every prefix of a valid message is refused, never a crash.
    for (std::size_t n = 0; n < good.size(); ++n) {
      CHECK_FALSE(decode_control(good.substr(0, n)).ok());
    }
  }

  TEST_CASE("decode.refuses_bad_hex_and_wrong_types") {
    std::string text = encode_control(sample());
    std::string odd = text;
    odd.replace(odd.find("\"data\":\"") + 8, 1, "");
    CHECK_FALSE(decode_control(odd).ok());
    std::string wrong = text;
    wrong.replace(wrong.find("\"req\":42"), 8, "\"req\":\"x\"");
    CHECK_FALSE(decode_control(wrong).ok());
  }

  TEST_CASE("decode.wall_us_is_optional_for_older_senders") {
    // An agent from before ping/pong sends no "wall_us".
    nlohmann::json j = nlohmann::json::parse(encode_control(sample()));
    j.erase("wall_us");
    Result<ControlMessage> d = decode_control(j.dump());
    REQUIRE(d.ok());
    CHECK(d->wall_us == 0);
    CHECK(d->cluster_id == "c-0000000000000001");

    j["wall_us"] = -5;  // a clock before 1970 is odd but well-formed
    d = decode_control(j.dump());
    REQUIRE(d.ok());
    CHECK(d->wall_us == -5);

    for (const nlohmann::json& bad :
         {nlohmann::json("1"), nlohmann::json(1.5), nlohmann::json(nullptr)}) {
      j["wall_us"] = bad;
      CAPTURE(bad.dump());
      d = decode_control(j.dump());
      REQUIRE_FALSE(d.ok());
      CHECK(d.error().code == Code::invalid_argument);
    }
  }

  TEST_CASE("encode.ping_carries_every_field") {
    ControlMessage m;
    m.type = ControlType::ping;
    m.req = 9;
    m.wall_us = 1000;
    const nlohmann::json j = nlohmann::json::parse(encode_control(m));
    CHECK(j["t"] == "ping");
    CHECK(j["req"] == 9);
    CHECK(j["wall_us"] == 1000);
    for (const char* field :
         {"self", "api_addr", "expect", "cluster_id", "initial_voters", "peers",
          "code", "message", "hint", "leader", "leader_peer_addr", "data"}) {
      CHECK_MESSAGE(j.contains(field), field);
    }
  }

  TEST_CASE("cluster_id.format") {
    CHECK(make_cluster_id(0x1234) == "c-0000000000001234");
    CHECK(make_cluster_id(~0ULL) == "c-ffffffffffffffff");
  }
}

}  // namespace
}  // namespace nw::cluster

// cluster.json (agent/cluster/identity.h): created once with a raft id that
// never changes, round trips, and refuses damage with Code::corruption.
#include "agent/cluster/identity.h"

#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/check.h"
#include "tests/support/temp_dir.h"

namespace nw::cluster {
namespace {

TEST_SUITE("cluster.identity") {
  TEST_CASE("load_or_create.keeps_the_raft_id") {
    testsupport::TempDir dir("identity");
    Result<Identity> first = Identity::load_or_create(dir.path().string());
    NW_REQUIRE_OK(first);
    CHECK(first->raft_id != 0);
    CHECK_FALSE(first->member());
    Result<Identity> again = Identity::load_or_create(dir.path().string());
    NW_REQUIRE_OK(again);
    CHECK(again->raft_id == first->raft_id);
  }

  TEST_CASE("save.round_trips") {
    testsupport::TempDir dir("identity");
    Identity id;
    id.raft_id = 99;
    id.cluster_id = "c-00000000000000aa";
    id.initial_voters = {99, 100};
    id.peers = {KnownPeer{"n1", 99, "127.0.0.1:1"},
                KnownPeer{"n2", 100, "127.0.0.1:2"}};
    id.removed = true;
    NW_REQUIRE_OK(id.save(dir.path().string()));
    Result<Identity> back = Identity::load_or_create(dir.path().string());
    NW_REQUIRE_OK(back);
    CHECK(back->raft_id == 99);
    CHECK(back->cluster_id == id.cluster_id);
    CHECK(back->initial_voters == id.initial_voters);
    CHECK(back->peers == id.peers);
    CHECK(back->removed);
    CHECK(back->member());
    CHECK(back->initial_membership().voters.size() == 2);
  }

  TEST_CASE("decode.refuses_damage") {
    for (const char* text :
         {"", "{", "[]", "{\"format\": 2, \"raft_id\": 1}",
          "{\"format\": 1, \"raft_id\": 0, \"cluster_id\": \"\", "
          "\"initial_voters\": [], \"peers\": []}",
          "{\"format\": 1, \"raft_id\": 5}"}) {
      CAPTURE(text);
      Result<Identity> r = Identity::decode(text);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::corruption);
    }
  }

  TEST_CASE("link_id.names_node_and_raft_id") {
    CHECK(link_id("n1", 0xab) == "n1@00000000000000ab");
  }
}

}  // namespace
}  // namespace nw::cluster

#pragma once

#include <functional>
#include <optional>

#include "agent/groups/coordinator.h"
#include "common/http/message.h"
#include "common/http/server.h"

namespace nw::groups {

// Sends a request on to the controller leader when this agent is not it,
// and returns the leader's answer (or an error response); nullopt when this
// agent is the leader and should answer itself.
using Forward =
    std::function<std::optional<http::Response>(const http::Request&)>;

// Registers the /v1/groups routes of docs/api.md ("Consumer groups") on
// server. Every handler first calls forward(request) and returns its
// response when it has one; otherwise it validates the request, calls
// coord and answers JSON (or 204), errors as the API error body.
// Handlers run on the server's pool threads.
// REQUIRES: before server.start(); coord outlives the server's serving.
// forward may be empty (never forward: tests, a single node).
void add_group_routes(http::Server& server, Coordinator& coord,
                      Forward forward);

}  // namespace nw::groups

#pragma once

#include <string>
#include <string_view>

#include "common/base/units.h"
#include "common/http/message.h"

namespace nw::http {

// Sends request `r` (method, path, query, body and content type) to the
// agent at `api_addr` ("HOST:PORT") and returns its answer as this agent's
// answer: a 2xx response as it came, any error as the error body. The
// forwarded request carries `forwarded=1` in its query, and a request that
// already carries it is answered with `unavailable` instead of being sent
// again, so a forward never loops. The agent behind a forward is trusted
// to answer within `timeout`.
// Threads: safe from any thread (one connection per call).
Response forward(const Request& r, std::string_view api_addr, Duration timeout);

// Whether `r` came through forward() already.
bool forwarded(const Request& r);

}  // namespace nw::http

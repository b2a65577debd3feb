-- wrk script for bench/commit.sh: one Nightwatch controller write per
-- request, PUT /v1/cluster/nodes/{id}/labels {"set": {"bench": "<t>-<n>"}}
-- (the node id is in the URL bench/commit.sh passes). Each request carries
-- a new value so that every one is a real change committed through Raft.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local n = 0
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"

function request()
  n = n + 1
  return wrk.format(nil, nil, nil,
                    '{"set":{"bench":"' .. tostring(tid or 0) .. "-" .. n .. '"}}')
end

-- wrk script for bench/commit.sh: one etcd write per request through its
-- JSON gateway, POST /v3/kv/put {"key": base64, "value": base64}. Each
-- request carries a new value ("<thread>-<n>") so that every one is a real
-- change committed through Raft.
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for k = 3, 0, -1 do
      local v = math.floor(n / 2 ^ (6 * k)) % 64
      q[#q + 1] = alphabet:sub(v + 1, v + 1)
    end
    if not b then q[3] = "=" end
    if not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local key = b64("bench/commit")
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  n = n + 1
  local value = b64(tostring(tid or 0) .. "-" .. n)
  return wrk.format(nil, nil, nil,
                    '{"key":"' .. key .. '","value":"' .. value .. '"}')
end

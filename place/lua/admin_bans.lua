-- admin_bans.lua: the bans in force; the ones that have ended (Redis TIME) are removed here.
-- One that cannot be read is in force (canvas_place.lua holds it for ever) and listed as it is.
--
-- KEYS[1] bans hash (player id -> JSON {reason, until_ms (null: never), at_ms})
-- Returns a flat array: player id, ban JSON, player id, ban JSON, ...

local bans_key = KEYS[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local bans = {}
local all = redis.call('HGETALL', bans_key)
for i = 1, #all, 2 do
  local readable, ban = pcall(cjson.decode, all[i + 1])
  local until_ms = readable and type(ban) == 'table' and tonumber(ban['until_ms']) or nil
  if until_ms and until_ms <= now then
    redis.call('HDEL', bans_key, all[i])
  else
    bans[#bans + 1] = all[i]
    bans[#bans + 1] = all[i + 1]
  end
end
return bans

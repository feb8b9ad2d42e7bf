-- admin_ban.lua: stop a player from placing, for a time or for ever. canvas_place.lua checks the
-- ban on every placement, so every pod refuses the player's next one; a timed ban ends by itself.
-- Its times come from Redis TIME, like the check's, so no clock but Redis's matters.
--
-- KEYS[1] bans hash (player id -> JSON {reason, until_ms (null: never), at_ms})
-- ARGV[1] player id   ARGV[2] reason ("" for none)   ARGV[3] duration in ms (0: for ever)
-- Returns {until_ms (0: never), 1 when a ban in force was replaced, else 0}

local bans_key = KEYS[1]
local player, reason, duration = ARGV[1], ARGV[2], tonumber(ARGV[3])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local replaced = 0
local old = redis.call('HGET', bans_key, player)
if old then
  local readable, ban = pcall(cjson.decode, old)
  local old_until = readable and type(ban) == 'table' and tonumber(ban['until_ms']) or nil
  if not old_until or old_until > now then
    replaced = 1
  end
end

local until_ms = cjson.null
if duration > 0 then
  until_ms = now + duration
end
redis.call('HSET', bans_key, player, cjson.encode({reason = reason, until_ms = until_ms, at_ms = now}))
if duration > 0 then
  return {now + duration, replaced}
end
return {0, replaced}

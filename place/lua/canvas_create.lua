-- canvas_create.lua: create the canvas and its live configuration, once, by the active ticker.
--
-- KEYS[1] ticker lock   KEYS[2] config hash   KEYS[3] canvas string   KEYS[4] who string
-- ARGV[1] lock token   ARGV[2] width * height   ARGV[3...] config field, value pairs
-- Returns 1 when created, 0 when a canvas exists already, -1 when the lock is not ours.

local lock_key, config_key, canvas_key, who_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('GET', lock_key) ~= ARGV[1] then
  return -1
end
if redis.call('EXISTS', config_key) == 1 then
  return 0
end
local pixels = tonumber(ARGV[2])
redis.call('DEL', canvas_key, who_key)
-- colour 0 everywhere, nobody (player 0) in the who record
redis.call('SETRANGE', canvas_key, pixels - 1, '\0')
redis.call('SETRANGE', who_key, pixels * 12 - 1, '\0')
redis.call('HSET', config_key, unpack(ARGV, 3))
return 1

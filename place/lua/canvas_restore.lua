-- canvas_restore.lua: put a restored canvas and its configuration in place, in one atomic step.
--
-- Automatic (ARGV[1] "auto", by the active ticker when Redis lost the canvas): fenced by the lock
-- token; only when there is still no canvas; the ticker state starts again at ARGV[4], above any
-- seq published before, so that every pod takes the restored canvas as news.
-- Manual (ARGV[1] "manual", `place snapshot restore`): replaces the live canvas; the config version
-- rises, so the ticker's next tick publishes a snapshot of it with the next seq and every pod sends
-- it to its players; the placements stored before this step and not yet in a delta are dropped
-- from the delta flow (the restored canvas replaces them).
-- Either way nobody placed the restored pixels now: the who record starts blank.
--
-- KEYS[1] config hash   KEYS[2] canvas string   KEYS[3] who string   KEYS[4] ticker state hash
-- KEYS[5] placement stream   KEYS[6] ticker lock
-- ARGV[1] "auto" or "manual"   ARGV[2] lock token (auto)   ARGV[3] canvas bytes   ARGV[4] seq (auto)
-- ARGV[5] config version (auto: the backup's plus one)   ARGV[6...] config field, value pairs
-- Returns the config version written, 0 when (auto) a canvas exists already, -1 when deposed.

local config_key, canvas_key, who_key, state_key, stream_key, lock_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local mode, token, canvas, seq = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local version = tonumber(ARGV[5])
if mode == 'auto' then
  if redis.call('GET', lock_key) ~= token then
    return -1
  end
  if redis.call('EXISTS', config_key) == 1 then
    return 0
  end
  redis.call('DEL', state_key)
  redis.call('HSET', state_key, 'seq', seq, 'pos', '0-0', 'archived', '0-0')
else
  version = (tonumber(redis.call('HGET', config_key, 'version')) or 0) + 1
  local last = redis.call('XREVRANGE', stream_key, '+', '-', 'COUNT', 1)
  if last[1] then
    redis.call('HSET', state_key, 'pos', last[1][1])
  end
end

redis.call('SET', canvas_key, canvas)
redis.call('DEL', who_key)
redis.call('SETRANGE', who_key, string.len(canvas) * 12 - 1, '\0')
redis.call('HSET', config_key, unpack(ARGV, 6))
redis.call('HSET', config_key, 'version', version)
return version

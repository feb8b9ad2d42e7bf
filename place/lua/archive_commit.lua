-- archive_commit.lua: after an archive chunk is safely in the store, move the archive cursor and
-- trim the placement stream up to what is both archived and folded into a delta. Fenced: a
-- ticker that lost its lock changes nothing.
--
-- KEYS[1] ticker lock   KEYS[2] ticker state hash   KEYS[3] placement stream
-- ARGV[1] lock token   ARGV[2] id of the last stream entry in the uploaded chunk
-- Returns 1 when committed, 0 when deposed.

local lock_key, state_key, stream_key = KEYS[1], KEYS[2], KEYS[3]
local token, archived = ARGV[1], ARGV[2]

local function id_less(a, b)
  local a_ms, a_seq = string.match(a, '(%d+)-(%d+)')
  local b_ms, b_seq = string.match(b, '(%d+)-(%d+)')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  return a_ms < b_ms or (a_ms == b_ms and tonumber(a_seq) < tonumber(b_seq))
end

if redis.call('GET', lock_key) ~= token then
  return 0
end
local state = redis.call('HMGET', state_key, 'archived', 'pos')
local current, pos = state[1] or '0-0', state[2] or '0-0'
if id_less(current, archived) then
  redis.call('HSET', state_key, 'archived', archived)
  current = archived
end
-- entries the tick has not read yet stay, whatever the archive has
if id_less(pos, current) then
  current = pos
end
redis.call('XTRIM', stream_key, 'MINID', current)
return 1

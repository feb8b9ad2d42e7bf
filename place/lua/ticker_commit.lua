-- ticker_commit.lua: publish one tick and save the ticker's position, atomically and fenced: a
-- ticker that lost its lock changes nothing and publishes nothing.
--
-- KEYS[1] ticker lock   KEYS[2] ticker state hash   KEYS[3] delta stream
-- KEYS[4] snapshot hash   KEYS[5] placement stream
-- ARGV[1] lock token   ARGV[2] seq this tick started from   ARGV[3] new seq   ARGV[4] new position
-- ARGV[5] config version   ARGV[6] channel   ARGV[7] delta frame or ""   ARGV[8] most deltas kept
-- ARGV[9] snapshot frame or ""   ARGV[10] the snapshot's config as JSON
-- ARGV[11] how long (ms) placements not yet archived may stay in the stream (a store outage)
-- ARGV[12...] messages to publish on the channel, in order
-- The stream is trimmed by archive_commit.lua once entries are archived; here only entries older
-- than ARGV[11] that the tick has read are dropped unarchived, so that Redis memory stays bounded
-- while the store is down (counted in the state's `archive_dropped`).
-- Returns 1 when committed, 0 when deposed (lock lost or the sequence moved under us).

local lock_key, state_key, deltas_key, snapshot_key, stream_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token, old_seq, new_seq, new_pos = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local config_version, channel, delta, max_deltas = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local snapshot, snapshot_config, backlog_ms = ARGV[9], ARGV[10], tonumber(ARGV[11])

local function parse(id)
  local ms, seq = string.match(id, '(%d+)-(%d+)')
  return tonumber(ms), tonumber(seq)
end

local function id_less(a, b)
  local a_ms, a_seq = parse(a)
  local b_ms, b_seq = parse(b)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end

if redis.call('GET', lock_key) ~= token then
  return 0
end
if (redis.call('HGET', state_key, 'seq') or '0') ~= old_seq then
  return 0
end

redis.call('HSET', state_key, 'seq', new_seq, 'pos', new_pos, 'config_version', config_version)
if delta ~= '' then
  redis.call('XADD', deltas_key, 'MAXLEN', '~', max_deltas, new_seq .. '-1', 'frame', delta)
end
if snapshot ~= '' then
  redis.call('HSET', snapshot_key, 'frame', snapshot, 'config', snapshot_config, 'seq', new_seq)
end
-- during a store outage: drop what is older than the backlog allows and already in a delta
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local floor = string.format('%d-0', now - backlog_ms)
if id_less(new_pos, floor) then
  floor = new_pos
end
local archived = redis.call('HGET', state_key, 'archived') or '0-0'
if id_less(archived, floor) then
  local dropped = redis.call('XTRIM', stream_key, 'MINID', floor)
  redis.call('HSET', state_key, 'archived', floor)
  if dropped > 0 then
    redis.call('HINCRBY', state_key, 'archive_dropped', dropped)
  end
end
for i = 12, #ARGV do
  redis.call('PUBLISH', channel, ARGV[i])
end
return 1

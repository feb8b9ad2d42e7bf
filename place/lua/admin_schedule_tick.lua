-- admin_schedule_tick.lua: every ticker's heartbeat, and the schedule of `place admin open --at`
-- / `close --at` applied by the active one. Called by every ticker, the active one once a tick and
-- standbys as they poll for the lock; since the schedule lives in the config hash and the time is
-- Redis TIME, whichever ticker is active when it falls due applies it, even after a failover.
-- An opening and a closing both due (the tickers were down) are applied in the order of their
-- times; the change bumps the config version (every player gets hello) and is written to the
-- admin audit log.
--
-- KEYS[1] ticker lock   KEYS[2] tickers hash (token -> "reported_ms host pid")   KEYS[3] config hash
-- KEYS[4] audit stream
-- ARGV[1] this ticker's token   ARGV[2] "host pid"   ARGV[3] heartbeats older than this (ms) go
-- Returns {1 when this ticker is active else 0, "opened" / "closed" / "" (what changed)}

local lock_key, tickers_key, config_key, audit_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token, info, stale_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

redis.call('HSET', tickers_key, token, now .. ' ' .. info)
local beats = redis.call('HGETALL', tickers_key)
for i = 1, #beats, 2 do
  local at = tonumber(string.match(beats[i + 1], '^(%d+)'))
  if not at or now - at > stale_ms then
    redis.call('HDEL', tickers_key, beats[i])
  end
end

if redis.call('GET', lock_key) ~= token then
  return {0, ''}
end
local config = redis.call('HMGET', config_key, 'open', 'opens_at_ms', 'closes_at_ms')
if not config[1] then
  return {1, ''}
end
local opens, closes = tonumber(config[2]) or 0, tonumber(config[3]) or 0
local due = {}
if opens > 0 and opens <= now then
  due[#due + 1] = {opens, '1', 'opens_at_ms', 'open', 'opened'}
end
if closes > 0 and closes <= now then
  due[#due + 1] = {closes, '0', 'closes_at_ms', 'close', 'closed'}
end
if #due == 0 then
  return {1, ''}
end
table.sort(due, function(a, b) return a[1] < b[1] end)
local is_open = config[1]
local changed = ''
for _, event in ipairs(due) do
  redis.call('HSET', config_key, event[3], 0)
  is_open = event[2]
  changed = event[5]
  redis.call('XADD', audit_key, 'MAXLEN', '~', 100000, '*', 'j', cjson.encode({
    at_ms = now, who = 'schedule', action = event[4], args = {at_ms = event[1]},
    result = 'the canvas ' .. event[5] .. ' on schedule', ok = true,
  }))
end
redis.call('HSET', config_key, 'open', is_open)
redis.call('HINCRBY', config_key, 'version', 1)
return {1, changed}

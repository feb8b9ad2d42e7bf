-- stats_report.lua: a pod reports its connections and new visits, and reads the cluster's stats.
--
-- KEYS[1] pods hash (pod id -> "connections:reported_ms")   KEYS[2] stats hash
-- KEYS[3] player numbers hash (one field per signed-in player)
-- KEYS[4] (optional) pod info hash (pod id -> JSON: host, pid, placements, pps), for
-- `place admin status`; a gone pod's entry goes with its report
-- ARGV[1] pod id   ARGV[2] its connections now   ARGV[3] visits since its last report
-- ARGV[4] how old (ms) a report may be before its pod counts as gone   ARGV[5] this pod's info
-- Returns {ccu, peak_ccu, users, visits, placements, peak_pps, pods}: pods, those whose report is
-- fresh (this one included), is what a pod compares its own connections with (place/api/shedding.py)

local pods_key, stats_key, players_key, info_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local pod, connections, visits, stale_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', pods_key, pod, connections .. ':' .. now)
if info_key then
  redis.call('HSET', info_key, pod, ARGV[5])
end

local ccu, pods = 0, 0
local reports = redis.call('HGETALL', pods_key)
for i = 1, #reports, 2 do
  local count, at = string.match(reports[i + 1], '^(%d+):(%d+)$')
  if count and now - tonumber(at) <= stale_ms then
    ccu = ccu + tonumber(count)
    pods = pods + 1
  else
    redis.call('HDEL', pods_key, reports[i])
    if info_key then
      redis.call('HDEL', info_key, reports[i])
    end
  end
end

if visits > 0 then
  redis.call('HINCRBY', stats_key, 'visits', visits)
end
local stats = redis.call('HMGET', stats_key, 'peak_ccu', 'visits', 'placements', 'peak_pps')
local peak = tonumber(stats[1]) or 0
if ccu > peak then
  peak = ccu
  redis.call('HSET', stats_key, 'peak_ccu', peak)
end
return {ccu, peak, redis.call('HLEN', players_key), tonumber(stats[2]) or 0,
        tonumber(stats[3]) or 0, tonumber(stats[4]) or 0, pods}

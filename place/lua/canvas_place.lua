-- canvas_place.lua: store a batch of placements, each checked and applied in order, atomically.
-- A placement that passes every check is written to the canvas, the who record and the stream in
-- the same step, so the canvas and the stream never disagree. The stream gets one entry per
-- batch: r = the stored placements as 9-byte records '<HHHHB' (x, y, 1, 1, colour), u = their
-- player ids, newline-separated, t = the time (ms) they were stored. The ticker reads a few
-- large entries instead of thousands of small ones.
--
-- Few commands per placement (docs/performance.md): the cooldowns of the whole batch are read
-- with one MGET, the canvas is written with one BITFIELD of all the batch's stored placements,
-- in order (the last placement of a pixel wins, as one by one), and each placement's who record
-- with one SETRANGE (12 bytes, big-endian: the same bytes as BITFIELD u32 + i64, which costs
-- twice as much). A player placing twice in one batch meets the cooldown its first one started.
-- A batch holds at most 1,999 placements (Lua's unpack takes under 8,000 values); pods send 1,000.
--
-- A ban (KEYS[5], player id -> JSON {reason, until_ms, at_ms}) holds until until_ms (null:
-- for ever), checked against Redis TIME; an ended one is removed here. An admin's placement
-- skips the cooldown: it neither waits for one nor starts one.
--
-- KEYS[1] config hash     KEYS[2] canvas string (BITFIELD u8)   KEYS[3] placement stream
-- KEYS[4] who string      KEYS[5] bans hash                     KEYS[6] stats hash
-- KEYS[6+i] cooldown key of placement i
-- ARGV[1] number of placements   ARGV[2] the numbers of every placement, 17 bytes each:
-- '<IiiiB' player number, x, y, colour, admin (1) or not (0)   ARGV[2+i] player id of placement i
-- Returns a flat array, 3 per placement: "ok" or an error code; then next_place_at_ms for "ok"
-- (0 without cooldown), retry_at_ms for "cooldown", the end of the ban for "banned" (0: never),
-- 0 otherwise; then the ban's reason for "banned", "" otherwise.

local config_key, canvas_key, stream_key = KEYS[1], KEYS[2], KEYS[3]
local who_key, bans_key, stats_key = KEYS[4], KEYS[5], KEYS[6]
local count = tonumber(ARGV[1])

local results = {}
local config = redis.call('HMGET', config_key, 'width', 'height', 'colors', 'cooldown_ms', 'open')
if not config[1] then
  for i = 1, count do
    results[#results + 1] = 'unavailable'
    results[#results + 1] = 0
    results[#results + 1] = ''
  end
  return results
end
local width, height, colors = tonumber(config[1]), tonumber(config[2]), tonumber(config[3])
local cooldown_ms, is_open = tonumber(config[4]), config[5] == '1'

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- the ban of a player, or nil; an ended ban is removed; one that cannot be read holds for ever
-- (failing this one player, not the whole batch)
local any_bans = redis.call('EXISTS', bans_key) == 1
local function ban_of(player)
  local raw = redis.call('HGET', bans_key, player)
  if not raw then
    return nil
  end
  local readable, ban = pcall(cjson.decode, raw)
  if not readable or type(ban) ~= 'table' then
    return {0, ''}
  end
  local until_ms = tonumber(ban['until_ms'])
  if until_ms and until_ms <= now then
    redis.call('HDEL', bans_key, player)
    return nil
  end
  local reason = ban['reason']
  return {until_ms or 0, type(reason) == 'string' and reason or ''}
end

local stored = 0
local records, players = {}, {}
local canvas_ops = {}
local cooling = cooldown_ms > 0
local cooldowns = {}  -- player -> next_at_ms: from the batch's MGET, then as stored here
if cooling and count > 0 then
  local read = redis.call('MGET', unpack(KEYS, 7, 6 + count))
  for i = 1, count do
    cooldowns[ARGV[2 + i]] = tonumber(read[i])
  end
end
local numbers = ARGV[2]
for i = 0, count - 1 do
  local number, x, y, c, admin = struct.unpack('<IiiiB', numbers, i * 17 + 1)
  local player = ARGV[3 + i]
  local code, at, reason = 'ok', 0, ''
  local ban = nil
  if x < 0 or x >= width or y < 0 or y >= height then
    code = 'out_of_bounds'
  elseif c < 0 or c >= colors then
    code = 'bad_color'
  elseif not is_open then
    code = 'closed'
  else
    ban = any_bans and ban_of(player) or nil
  end
  if ban then
    code, at, reason = 'banned', ban[1], ban[2]
  elseif code == 'ok' then
    local next_at = nil
    if cooling and admin == 0 then
      next_at = cooldowns[player]
    end
    if next_at and next_at > now then
      code, at = 'cooldown', next_at
    else
      local pixel = y * width + x
      local n = #canvas_ops
      canvas_ops[n + 1], canvas_ops[n + 2], canvas_ops[n + 3], canvas_ops[n + 4] =
        'SET', 'u8', '#' .. pixel, c
      redis.call('SETRANGE', who_key, pixel * 12, struct.pack('>I4i8', number, now))
      records[#records + 1] = struct.pack('<HHHHB', x, y, 1, 1, c)
      players[#players + 1] = player
      if cooling and admin == 0 then
        at = now + cooldown_ms
        cooldowns[player] = at
        redis.call('SET', KEYS[7 + i], at, 'PX', cooldown_ms)
      end
      stored = stored + 1
    end
  end
  results[#results + 1] = code
  results[#results + 1] = at
  results[#results + 1] = reason
end

if stored > 0 then
  redis.call('BITFIELD', canvas_key, unpack(canvas_ops))
  redis.call('XADD', stream_key, '*', 'r', table.concat(records), 'u', table.concat(players, '\n'), 't', now)
  redis.call('HINCRBY', stats_key, 'placements', stored)
  -- placements stored within the current second, and the most ever stored within one second
  local second = math.floor(now / 1000)
  local window = redis.call('HMGET', stats_key, 'pps_sec', 'pps_count', 'peak_pps')
  local in_second = stored
  if tonumber(window[1]) == second then
    in_second = tonumber(window[2]) + stored
  end
  redis.call('HSET', stats_key, 'pps_sec', second, 'pps_count', in_second)
  if in_second > (tonumber(window[3]) or 0) then
    redis.call('HSET', stats_key, 'peak_pps', in_second)
  end
end
return results

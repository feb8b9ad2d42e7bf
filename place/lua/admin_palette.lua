-- admin_palette.lua: set a new palette and remap every pixel of the canvas to it, in one atomic
-- step, so that no pixel changes how it looks (a colour that stays keeps its look wherever it
-- moves in the list; a removed one becomes the colour chosen for it). The caller remapped the
-- canvas as it read it (numpy: Redis is not busy meanwhile); here that canvas replaces the live
-- one and the placements stored since the read are applied again, remapped, so none is lost. A
-- placement after this step is checked against the new palette. Bumps the config version, so
-- the ticker publishes a snapshot with the new palette.
--
-- KEYS[1] config hash   KEYS[2] canvas string   KEYS[3] placement stream
-- ARGV[1] config version the canvas was read at   ARGV[2] the new palette   ARGV[3] its colours
-- ARGV[4] 256 bytes: byte i is the new index of old index i
-- ARGV[5] the canvas as read, remapped; "" when no index changes (colours added at the end)
-- ARGV[6] id of the last stream entry the canvas read includes (an earlier one is safe: stream
-- entries are applied in order)
-- Returns {config version, id of the last placement-stream entry before the change ("0-0":
-- none)}, {-1} when there is no canvas, {-3} when the config changed since the read (read again).

local config_key, canvas_key, stream_key = KEYS[1], KEYS[2], KEYS[3]
local version, palette, colors, remap = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local canvas, read_at = ARGV[5], ARGV[6]

local config = redis.call('HMGET', config_key, 'version', 'width')
if not config[1] then
  return {-1}
end
if config[1] ~= version then
  return {-3}
end

if canvas ~= '' then
  redis.call('SET', canvas_key, canvas)
  local width = tonumber(config[2])
  for _, entry in ipairs(redis.call('XRANGE', stream_key, '(' .. read_at, '+')) do
    local fields, records = entry[2], ''
    for i = 1, #fields, 2 do
      if fields[i] == 'r' then
        records = fields[i + 1]
      end
    end
    for i = 0, math.floor(string.len(records) / 9) - 1 do
      local x, y, w, h, c = struct.unpack('<HHHHB', records, i * 9 + 1)
      local row = string.rep(string.sub(remap, c + 1, c + 1), w)
      for line = y, y + h - 1 do
        redis.call('SETRANGE', canvas_key, line * width + x, row)
      end
    end
  end
end

local position = '0-0'
if redis.call('EXISTS', stream_key) == 1 then
  local info = redis.call('XINFO', 'STREAM', stream_key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      position = info[i + 1]
    end
  end
end
redis.call('HSET', config_key, 'palette', palette, 'colors', colors)
return {redis.call('HINCRBY', config_key, 'version', 1), position}

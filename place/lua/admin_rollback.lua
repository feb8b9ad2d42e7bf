-- admin_rollback.lua: put back the colours a player's placements covered (`place admin rollback`),
-- one batch of pixels per call, on the canvas and in the stream in one step, so that the ticker
-- sends them in a delta like any placement. A pixel is restored only while the player's placement
-- planned for it is still on top (its who record unchanged): a pixel someone painted since the
-- plan was made is left alone. The who record gets back whoever had placed the restored colour.
--
-- KEYS[1] config hash   KEYS[2] canvas string   KEYS[3] who string   KEYS[4] placement stream
-- ARGV[1] config version the plan was made for   ARGV[2] who asked (for the stream)
-- ARGV[3] the pixels, 29 bytes each: '<I' pixel index, the colour byte to restore, then two who
-- records as the who string holds them (12 bytes: u32 player number, i64 ms, big-endian): the
-- player's placement expected on top, and the one to restore (zeros: nobody)
-- Returns {pixels restored, pixels left alone}, {-1} when there is no canvas, {-3} when the
-- configuration changed since the plan (resize, palette: plan again).

local config_key, canvas_key, who_key, stream_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local version, actor, pixels = ARGV[1], ARGV[2], ARGV[3]

local config = redis.call('HMGET', config_key, 'width', 'version')
if not config[1] then
  return {-1}
end
if config[2] ~= version then
  return {-3}
end
local width = tonumber(config[1])
local count = math.floor(string.len(pixels) / 29)

local restored, skipped = 0, 0
local records = {}
for i = 0, count - 1 do
  local offset = i * 29
  local pixel = struct.unpack('<I', pixels, offset + 1)
  local color = string.sub(pixels, offset + 5, offset + 5)
  local expected = string.sub(pixels, offset + 6, offset + 17)
  if redis.call('GETRANGE', who_key, pixel * 12, pixel * 12 + 11) == expected then
    redis.call('SETRANGE', canvas_key, pixel, color)
    redis.call('SETRANGE', who_key, pixel * 12, string.sub(pixels, offset + 18, offset + 29))
    records[#records + 1] = struct.pack('<HHHHB', pixel % width, math.floor(pixel / width), 1, 1,
                                        string.byte(color))
    restored = restored + 1
  else
    skipped = skipped + 1
  end
end

if restored > 0 then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  redis.call('XADD', stream_key, '*', 'r', table.concat(records), 'u', actor, 't', now)
end
return {restored, skipped}

-- admin_wipe.lua: paint a rectangle one colour (moderation), on the canvas and in the stream in
-- one step, so the ticker sends it in a delta like any placement; nobody placed those pixels now.
--
-- KEYS[1] config hash   KEYS[2] canvas string   KEYS[3] who string   KEYS[4] placement stream
-- ARGV[1] x   ARGV[2] y   ARGV[3] w   ARGV[4] h   ARGV[5] colour   ARGV[6] who asked (for the stream)
-- Returns {status, canvas width, canvas height, palette size}, status being 1 (done), -1 (no
-- canvas; nothing else follows), -2 (w or h below 1), -3 (the rectangle reaches outside the
-- canvas) or -4 (the colour is not in the palette); the sizes let the caller say what fits.

local config_key, canvas_key, who_key, stream_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local x, y, w, h, c = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local config = redis.call('HMGET', config_key, 'width', 'height', 'colors')
if not config[1] then
  return {-1}
end
local width, height, colors = tonumber(config[1]), tonumber(config[2]), tonumber(config[3])
if w < 1 or h < 1 then
  return {-2, width, height, colors}
end
if x < 0 or y < 0 or x + w > width or y + h > height then
  return {-3, width, height, colors}
end
if c < 0 or c >= colors then
  return {-4, width, height, colors}
end
local row = string.rep(string.char(c), w)
local nobody = string.rep('\0', w * 12)
for line = y, y + h - 1 do
  redis.call('SETRANGE', canvas_key, line * width + x, row)
  redis.call('SETRANGE', who_key, (line * width + x) * 12, nobody)
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('XADD', stream_key, '*', 'r', struct.pack('<HHHHB', x, y, w, h, c), 'u', ARGV[6], 't', now)
return {1, width, height, colors}

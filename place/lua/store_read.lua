-- store_read.lua: what a backup or a timelapse frame needs, read in one atomic step: the live
-- configuration, the canvas, the ticker's seq, and the last placement-stream entry the canvas
-- includes (every placement is written to the canvas and the stream in the same step).
--
-- KEYS[1] config hash   KEYS[2] canvas string   KEYS[3] ticker state hash   KEYS[4] placement stream
-- Returns false when there is no canvas, else {config (flat HGETALL), canvas, seq, position}
-- position: the id of the last stream entry, or the ticker's position when the stream is empty
-- (an earlier position is safe: replaying the placements after it, in order, gives the same canvas).

local config_key, canvas_key, state_key, stream_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('EXISTS', config_key) == 0 then
  return false
end
local state = redis.call('HMGET', state_key, 'seq', 'pos')
local position = state[2] or '0-0'
local last = redis.call('XREVRANGE', stream_key, '+', '-', 'COUNT', 1)
if last[1] then
  position = last[1][1]
end
return {redis.call('HGETALL', config_key), redis.call('GET', canvas_key), state[1] or '0', position}

-- admin_resize.lua: change the canvas size, keeping every pixel that fits. The old canvas lands
-- at (dx, dy) of the new one: (0, 0) keeps the top-left; a centred resize grows or shrinks the
-- canvas on every side and existing pixels move with it. New pixels take colour 0 and nobody
-- placed them. A placement stored before this step moves with the rest; one after it is checked
-- against the new size. Bumps the config version so that the ticker folds this into a snapshot
-- of the new size and every pod follows.
--
-- KEYS[1] config hash   KEYS[2] canvas string (1 byte per pixel)   KEYS[3] who string (12 bytes)
-- KEYS[4] placement stream
-- ARGV[1] new width   ARGV[2] new height   ARGV[3] anchor: "top-left" or "centre" (the old
-- canvas at dx = (new width - old width) / 2, dy likewise, rounded towards zero: the odd pixel
-- goes to the right and bottom; negative when shrinking: cropped on every side)
-- Returns {config version, old width, old height, dx, dy, id of the last placement-stream entry
-- before the change ("0-0": none)}, or {-1} when there is no canvas.

local config_key, canvas_key, who_key, stream_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local new_width, new_height, anchor = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local config = redis.call('HMGET', config_key, 'width', 'height')
if not config[1] then
  return {-1}
end
local old_width, old_height = tonumber(config[1]), tonumber(config[2])

local function half(difference)
  if difference >= 0 then
    return math.floor(difference / 2)
  end
  return -math.floor(-difference / 2)
end
local dx, dy = 0, 0
if anchor == 'centre' then
  dx, dy = half(new_width - old_width), half(new_height - old_height)
end

-- the old columns kept, and where they land
local first = math.max(0, -dx)
local last = math.min(old_width, new_width - dx) - 1
local left = math.max(0, dx)

-- Each row kept is copied once into a new string of the full size (allocated at once, zeroed),
-- which then replaces the old one: a 4096x4096 canvas and its 200 MB who record take a few
-- hundred ms, not the many seconds of concatenating rows in Lua (Redis answers nothing meanwhile).
-- The new string's key shares the key's hash tag: the same Redis Cluster slot.
local function relayout(key, size)
  local kept = math.max(0, last - first + 1)
  local building = key .. ':resizing'
  redis.call('DEL', building)
  redis.call('SETRANGE', building, new_width * new_height * size - 1, '\0')
  if kept > 0 then
    for y = math.max(0, dy), math.min(new_height, old_height + dy) - 1 do
      local start = ((y - dy) * old_width + first) * size
      local row = redis.call('GETRANGE', key, start, start + kept * size - 1)
      redis.call('SETRANGE', building, (y * new_width + left) * size, row)
    end
  end
  redis.call('RENAME', building, key)
end

relayout(canvas_key, 1)
relayout(who_key, 12)

local position = '0-0'
if redis.call('EXISTS', stream_key) == 1 then
  local info = redis.call('XINFO', 'STREAM', stream_key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      position = info[i + 1]
    end
  end
end
redis.call('HSET', config_key, 'width', new_width, 'height', new_height)
return {redis.call('HINCRBY', config_key, 'version', 1), old_width, old_height, dx, dy, position}

-- admin_resize.lua: change the canvas size, keeping every pixel that fits (top-left anchored);
-- new pixels take colour 0 and nobody placed them. Bumps the config version so that the ticker
-- folds this into a snapshot of the new size and every pod follows.
--
-- KEYS[1] config hash   KEYS[2] canvas string (1 byte per pixel)   KEYS[3] who string (12 bytes)
-- ARGV[1] new width   ARGV[2] new height
-- Returns the new config version, or -1 when there is no canvas.

local config_key, canvas_key, who_key = KEYS[1], KEYS[2], KEYS[3]
local new_width, new_height = tonumber(ARGV[1]), tonumber(ARGV[2])
local config = redis.call('HMGET', config_key, 'width', 'height')
if not config[1] then
  return -1
end
local old_width, old_height = tonumber(config[1]), tonumber(config[2])

local function relayout(key, size)
  local kept = math.min(old_width, new_width) * size
  local padding = string.rep('\0', new_width * size - kept)
  local blank_row = string.rep('\0', new_width * size)
  local rows = {}
  for y = 0, new_height - 1 do
    if y < old_height then
      local start = y * old_width * size
      rows[#rows + 1] = redis.call('GETRANGE', key, start, start + kept - 1) .. padding
    else
      rows[#rows + 1] = blank_row
    end
  end
  redis.call('SET', key, table.concat(rows))
end

relayout(canvas_key, 1)
relayout(who_key, 12)
redis.call('HSET', config_key, 'width', new_width, 'height', new_height)
return redis.call('HINCRBY', config_key, 'version', 1)

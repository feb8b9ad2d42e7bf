-- ticker_read.lua: everything one tick needs, read in one atomic step: the new placements since
-- the saved stream position, the live configuration, and (when asked, or when the configuration
-- changed since the last snapshot) the whole canvas, which then holds exactly those placements.
--
-- KEYS[1] ticker lock   KEYS[2] ticker state hash   KEYS[3] placement stream
-- KEYS[4] config hash   KEYS[5] canvas string
-- ARGV[1] this ticker's lock token   ARGV[2] most entries to read   ARGV[3] "1": read the canvas
-- With the canvas, every entry after the position is read, however many: the canvas then holds
-- exactly the placements read, so a snapshot made of it is the canvas after its seq.
-- Returns {"deposed"} when the lock is not ours, else
--   {seq, pos, last_id, records, config (flat HGETALL), canvas or false, config version of the
--   last snapshot or ""}
-- records: the 9-byte records '<HHHHB' x, y, w, h, c of every entry, in stream order (a placement
-- is a 1x1 rectangle, an admin wipe a larger one); each entry's first field, r, holds them.

local lock_key, state_key, stream_key, config_key, canvas_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token, max_entries, want_canvas = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'

if redis.call('GET', lock_key) ~= token then
  return {'deposed'}
end

local state = redis.call('HMGET', state_key, 'seq', 'pos', 'config_version')
local seq, pos = tonumber(state[1]) or 0, state[2] or '0-0'
local version = redis.call('HGET', config_key, 'version')
want_canvas = want_canvas or version ~= state[3]
local entries
if want_canvas then
  entries = redis.call('XRANGE', stream_key, '(' .. pos, '+')
else
  entries = redis.call('XRANGE', stream_key, '(' .. pos, '+', 'COUNT', max_entries)
end

local records = {}
local last_id = pos
for i, entry in ipairs(entries) do
  last_id = entry[1]
  records[i] = entry[2][2]
end

local config = redis.call('HGETALL', config_key)
local canvas = false
if want_canvas then
  canvas = redis.call('GET', canvas_key)
end
return {seq, pos, last_id, table.concat(records), config, canvas, state[3] or ''}

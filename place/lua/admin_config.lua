-- admin_config.lua: change fields of the live configuration (palette, cooldown, open) and bump
-- its version, so that the ticker publishes a snapshot with it and every pod says hello again.
--
-- KEYS[1] config hash
-- ARGV: field, value pairs
-- Returns the new config version, or -1 when there is no canvas.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return redis.call('HINCRBY', KEYS[1], 'version', 1)

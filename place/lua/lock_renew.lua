-- lock_renew.lua: extend the lock's lifetime only while it is still ours.
-- KEYS[1] lock   ARGV[1] token   ARGV[2] time to live (ms)
-- Returns 1 when renewed, 0 when the lock belongs to someone else (or expired).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0

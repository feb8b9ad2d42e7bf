-- player_register.lua: give a signed-in player a number (the who record stores numbers) and
-- remember its display name; tell when it may place again.
--
-- KEYS[1] player numbers hash (id -> number)   KEYS[2] player names hash (number -> name)
-- KEYS[3] player number counter                KEYS[4] the player's cooldown key
-- ARGV[1] player id   ARGV[2] display name
-- Returns {player number, next_place_at_ms (0: now)}

local numbers_key, names_key, seq_key, cooldown_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local player, name = ARGV[1], ARGV[2]

local number = redis.call('HGET', numbers_key, player)
if not number then
  number = redis.call('INCR', seq_key)
  redis.call('HSET', numbers_key, player, number)
end
redis.call('HSET', names_key, number, name)
local next_at = tonumber(redis.call('GET', cooldown_key)) or 0
return {tonumber(number), next_at}

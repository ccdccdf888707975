-- auth-failures-record-failure.lua: loaded by auth-failures.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] the address's counter; ARGV[1] window ms, ARGV[2] max failures. Counts one failure; the
-- first starts the window, and reaching the limit restarts it (the lock lasts a full window).
-- Returns the count.
local n = redis.call('INCR', KEYS[1])
if n == 1 or n >= tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n

-- key-lease-renew.lua: loaded by key-lease.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] the lease key; ARGV[1] the holder's token, ARGV[2] new TTL ms.
-- Extends the lease only while this token holds it. Returns 1 when extended, 0 when the lease is not ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0

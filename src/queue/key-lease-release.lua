-- key-lease-release.lua: loaded by key-lease.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] the lease key; ARGV[1] the holder's token.
-- Deletes the lease only while this token holds it. Returns 1 when deleted, 0 when the lease is not ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0

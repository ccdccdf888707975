-- mx-lease-renew.lua: loaded by mx-lease.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] lease zset; ARGV[1] new expiry, ARGV[2] token, ARGV[3] key TTL ms. Returns 1 while the
-- lease is still held. The key's own TTL is pushed out too: otherwise a set whose leases are only
-- renewed (no new acquire) would expire as a whole and let other processes in over the limit.
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[2])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  return 1
end
return 0

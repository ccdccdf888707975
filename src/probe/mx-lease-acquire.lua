-- mx-lease-acquire.lua: loaded by mx-lease.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] lease zset; ARGV[1] now ms, ARGV[2] expiry ms, ARGV[3] limit, ARGV[4] token. Returns 1 if granted.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  local ttl = tonumber(ARGV[2]) - tonumber(ARGV[1]) + 1000
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
  return 1
end
return 0

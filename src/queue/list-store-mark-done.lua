-- list-store-mark-done.lua: loaded by list-store.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] list hash, KEYS[2] :jobs set, KEYS[3] :done set; ARGV[1] job id ('' = only check).
-- Returns 1 when enqueuing is complete and every registered job is done.
if ARGV[1] ~= '' then redis.call('SADD', KEYS[3], ARGV[1]) end
if redis.call('HGET', KEYS[1], 'enqueued') ~= '1' then return 0 end
if redis.call('SCARD', KEYS[2]) == redis.call('SCARD', KEYS[3]) then return 1 end
return 0

-- session-start-budget-take.lua: loaded by session-start-budget.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] bucket hash. ARGV[1] now ms, ARGV[2] tokens per minute, ARGV[3] burst.
-- Returns 0 when a token was taken, else the milliseconds until one will be there.
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 60000
local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1] or '')
local at = tonumber(state[2] or '')
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 60000)
return wait

-- mx-pause-store-pause.lua: loaded by mx-pause-store.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] pause hash. ARGV[1] now ms, ARGV[2] base ms, ARGV[3] max ms, ARGV[4] jitter in [0, 1),
-- ARGV[5] reason, ARGV[6] detail, ARGV[7] kind. Returns { since, until, level, reason, detail, kind } of the pause in force.
local now = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local current = redis.call('HMGET', KEYS[1], 'since', 'until', 'level', 'reason', 'detail', 'kind')
local untilMs = tonumber(current[2] or '0') or 0
if untilMs > now then
  return { current[1], current[2], current[3], current[4], current[5], current[6] }
end
local level = tonumber(current[3] or '0') or 0
if untilMs + max < now then level = 0 end
level = level + 1
local ms = base * math.pow(2, level - 1)
if ms > max then ms = max end
ms = math.floor(ms * (1 + 0.25 * tonumber(ARGV[4])))
if ms > max then ms = max end
local newUntil = now + ms
redis.call('HSET', KEYS[1], 'since', now, 'until', newUntil, 'level', level, 'reason', ARGV[5], 'detail', ARGV[6], 'kind', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ms + max)
return { tostring(now), tostring(newUntil), tostring(level), ARGV[5], ARGV[6], ARGV[7] }

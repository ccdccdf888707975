-- sender-block-trip.lua: loaded by sender-block-store.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] breaker hash ({p}:senderblock:{limit}). ARGV[1] now ms, ARGV[2] decay ms (a level older than
-- this after its rest ended starts again at 1), ARGV[3] signature id, ARGV[4] reply, ARGV[5..] the
-- cooldown ladder in ms (the last repeats).
-- Returns { tripped (1 = this call tripped it, 0 = it was already resting), since, until, level, signature, reply }.
local now = tonumber(ARGV[1])
local decay = tonumber(ARGV[2])
local current = redis.call('HMGET', KEYS[1], 'since', 'until', 'level', 'signature', 'reply')
local untilMs = tonumber(current[2] or '0') or 0
if untilMs > now then
  return { 0, current[1], current[2], current[3], current[4], current[5] }
end
local level = tonumber(current[3] or '0') or 0
if untilMs + decay < now then level = 0 end
level = level + 1
local steps = #ARGV - 4
local index = level
if index > steps then index = steps end
local ms = tonumber(ARGV[4 + index])
local newUntil = now + ms
redis.call('HSET', KEYS[1], 'since', now, 'until', newUntil, 'level', level, 'signature', ARGV[3], 'reply', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ms + decay)
return { 1, tostring(now), tostring(newUntil), tostring(level), ARGV[3], ARGV[4] }

-- list-producer-list-lengths.lua: loaded by list-producer.ts (queue/lua-script.ts loadLuaScript).
-- LLEN of many domain lists in one call (one command per domain was most of building the jobs).
-- ARGV[1] the domain list key prefix, ARGV[2] domains joined by the unit separator. Returns the lengths.
local lengths = {}
local packed = ARGV[2]
local from = 1
local len = #packed
while from <= len do
  local cut = string.find(packed, '\31', from, true) or (len + 1)
  lengths[#lengths + 1] = redis.call('LLEN', ARGV[1] .. string.sub(packed, from, cut - 1))
  from = cut + 1
end
return lengths

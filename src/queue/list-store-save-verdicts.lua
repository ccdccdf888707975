-- list-store-save-verdicts.lua: loaded by list-store.ts (queue/lua-script.ts loadLuaScript).
-- KEYS[1] :verdicts hash, KEYS[2] list hash, KEYS[3] :vtext hash; ARGV[1] the shared texts joined by
-- the unit separator ('' when none), ARGV[2] "key US value US key US value...", where a value is a
-- verdict's JSON or '#n' for the n-th shared text, ARGV[3] how many of them are mailbox_not_found (a
-- hint for the collector: counted per save, so a job saved twice counts twice). Each shared text is stored once in :vtext under the
-- first 16 hex digits of its SHA-1 and referenced as '#id'. HSETs every pair, adds the number of new
-- fields to the list's `verified`, returns that number.
local refs = {}
local texts = ARGV[1]
local from = 1
while from <= #texts do
  local cut = string.find(texts, '\31', from, true) or (#texts + 1)
  local text = string.sub(texts, from, cut - 1)
  local id = string.sub(redis.sha1hex(text), 1, 16)
  redis.call('HSETNX', KEYS[3], id, text)
  refs[#refs + 1] = '#' .. id
  from = cut + 1
end
local packed = ARGV[2]
local added = 0
local from = 1
local len = #packed
-- One HSET per 500 pairs, not one per address: a redis.call per field cost more than the field.
local args = {}
while from <= len do
  local cut = string.find(packed, '\31', from, true)
  local value_end = string.find(packed, '\31', cut + 1, true) or (len + 1)
  local value = string.sub(packed, cut + 1, value_end - 1)
  if string.byte(value, 1) == 35 then value = refs[tonumber(string.sub(value, 2))] end
  args[#args + 1] = string.sub(packed, from, cut - 1)
  args[#args + 1] = value
  if #args >= 1000 then
    added = added + redis.call('HSET', KEYS[1], unpack(args))
    args = {}
  end
  from = value_end + 1
end
if #args > 0 then added = added + redis.call('HSET', KEYS[1], unpack(args)) end
if added > 0 then redis.call('HINCRBY', KEYS[2], 'verified', added) end
if ARGV[3] ~= '0' then redis.call('HINCRBY', KEYS[2], 'notFound', ARGV[3]) end
return added

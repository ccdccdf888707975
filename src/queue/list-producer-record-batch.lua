-- list-producer-record-batch.lua: loaded by list-producer.ts (queue/lua-script.ts loadLuaScript).
-- One parse batch, server side, in one round trip. KEYS[1] {p}:list:{id}:first (HASH),
-- KEYS[2] {p}:list:{id}:domains (SET), KEYS[3] {p}:list:{id} (list HASH).
-- ARGV[1] the domain list key prefix "{p}:list:{id}:dom:" (the per-domain LIST keys are built here,
-- as BullMQ's scripts build job keys from a prefix: one key per address would double the payload),
-- ARGV[2] rows read so far, ARGV[3] the batch packed as "address US index US key US ..." (US = the
-- unit separator), where key is '' when it is the address itself (the usual case). The domain is
-- what follows the address's last '@' (parseEmailAddress's address is local@domain, and a domain has
-- no '@').
-- For each address whose key is not in :first yet (HSETNX: the first occurrence wins, in argument
-- order): RPUSH it onto its domain list, SADD the domain when that list was new. Sets the list's
-- rows and adds to uniqueAddresses (both 0 at create/resetParse). Returns the number of new addresses.
--
-- Why a script with one packed argument: per-row arguments (then ioredis Command objects per row
-- before that) were the main client-side cost of the parse pass; splitting in Lua moves that work to
-- the Redis process. Atomic per batch, so an interrupted parse leaves :first, the domain lists and
-- :domains consistent (and resetParse starts over anyway).
local packed = ARGV[3]
local len = #packed
local added = 0
local from = 1
while from <= len do
  local a = string.find(packed, '\31', from, true)
  local b = string.find(packed, '\31', a + 1, true)
  local c = string.find(packed, '\31', b + 1, true) or (len + 1)
  local address = string.sub(packed, from, a - 1)
  local key = string.sub(packed, b + 1, c - 1)
  if key == '' then key = address end
  if redis.call('HSETNX', KEYS[1], key, string.sub(packed, a + 1, b - 1)) == 1 then
    added = added + 1
    local domain = string.match(address, '@([^@]*)$')
    if redis.call('RPUSH', ARGV[1] .. domain, address) == 1 then redis.call('SADD', KEYS[2], domain) end
  end
  from = c + 1
end
redis.call('HSET', KEYS[3], 'rows', ARGV[2])
redis.call('HINCRBY', KEYS[3], 'uniqueAddresses', added)
return added

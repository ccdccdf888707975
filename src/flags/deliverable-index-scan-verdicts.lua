-- deliverable-index-scan-verdicts.lua: loaded by deliverable-index.ts (queue/lua-script.ts loadLuaScript).
-- One HSCAN step, filtered server side. KEYS[1] the list's :verdicts HASH, KEYS[2] its :vtext HASH
-- (a '#id' value is the shared text stored there, see verdict-texts.ts); ARGV[1] cursor,
-- ARGV[2] COUNT. Returns { next cursor, key, 'n'|'d', key, 'n'|'d', ... }: 'n' for a verdict whose
-- JSON has "reason":"mailbox_not_found", else 'd' for "status":"deliverable"; others are left out.
-- Why server side: on most lists nearly every verdict is neither, and shipping all of them to be
-- dropped here cost the collector more than the rest of its start-up (the same text tests as before,
-- in the same HSCAN order, so the index is the same).
local step = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local flat = step[2]
local out = { step[1] }
local shared = {}
for i = 1, #flat, 2 do
  local json = flat[i + 1]
  if string.byte(json, 1) == 35 then
    local ref = json
    json = shared[ref]
    if json == nil then
      json = redis.call('HGET', KEYS[2], string.sub(ref, 2)) or ''
      shared[ref] = json
    end
  end
  if string.find(json, '"reason":"mailbox_not_found"', 1, true) then
    out[#out + 1] = flat[i]
    out[#out + 1] = 'n'
  elseif string.find(json, '"status":"deliverable"', 1, true) then
    out[#out + 1] = flat[i]
    out[#out + 1] = 'd'
  end
end
return out

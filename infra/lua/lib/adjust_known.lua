-- adjust_known(hash, signature, delta): adjust a list count only if it is known (an unknown one
-- is computed when first asked for).
local function adjust_known(hash, signature, delta)
  if redis.call('HEXISTS', hash, signature) == 1 then redis.call('HINCRBY', hash, signature, delta) end
end

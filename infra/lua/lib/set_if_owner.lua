-- set_if_owner(hash, pet_id, task_id, entry): set a pet's enrichment state unless another task
-- owns the pet (a newer task's state is never overwritten by an older one finishing late).
local function set_if_owner(hash, pet_id, task_id, entry)
  local current = redis.call('HGET', hash, pet_id)
  if current then
    local ok, owner = pcall(cjson.decode, current)
    if ok and type(owner) == 'table' and owner['task_id'] ~= task_id then return 0 end
  end
  redis.call('HSET', hash, pet_id, entry)
  return 1
end

-- queue_of(raw, high, normal, low): the list a payload goes back to, by its priority; one that is
-- not a task of ours (it is dead-lettered once taken) goes to the normal list.
local function queue_of(raw, high, normal, low)
  local ok, task = pcall(cjson.decode, raw)
  if ok and type(task) == 'table' then
    if task['priority'] == 'high' then return high end
    if task['priority'] == 'low' then return low end
  end
  return normal
end

-- drop_cancelled(status, processing, events, history, kept, raw, pet_id, task_id, entry, note): a
-- consumer found the task it holds cancelled: out of its processing list, the pet's state
-- cancelled (unless a newer task owns the pet), a task.cancelled event and a 'dropped' step in its
-- history. `entry` and `note` are the task's state entry and history note as the consumer would
-- have written them had it gone on; they are turned into their cancelled forms here.
local function drop_cancelled(status, processing, events, history, kept, raw, pet_id, task_id, entry, note)
  redis.call('LREM', processing, 1, raw)
  local cancelled = cjson.decode(entry)
  cancelled.state = 'cancelled'
  cancelled.writing = nil
  if set_if_owner(status, pet_id, task_id, cjson.encode(cancelled)) == 1 then
    add_event(events, '$TASK_CANCELLED', cjson.encode({pet_id = pet_id, task_id = task_id}))
  end
  local dropped = cjson.decode(note)
  dropped.event = 'dropped'
  dropped.state = 'cancelled'
  note_task(history, cjson.encode(dropped), kept)
end

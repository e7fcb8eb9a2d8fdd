-- Set one pet's enrichment state, unless a newer task owns the pet; 1 if set.
-- uses: set_if_owner
-- KEYS: status
-- ARGV: pet_id, task_id, status_entry
return set_if_owner(KEYS[1], ARGV[1], ARGV[2], ARGV[3])

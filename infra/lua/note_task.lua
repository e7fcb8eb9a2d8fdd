-- One step of a task's life into its history (queued on a pipeline with the move it describes).
-- uses: note_task
-- KEYS: history
-- ARGV: note, kept
note_task(KEYS[1], ARGV[1], ARGV[2])

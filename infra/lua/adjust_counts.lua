-- Adjust the known list counts after a write that moved pets between filters.
-- uses: adjust_known
-- KEYS: counts
-- ARGV: signature, delta pairs
for i = 1, #ARGV, 2 do adjust_known(KEYS[1], ARGV[i], ARGV[i + 1]) end

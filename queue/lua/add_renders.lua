-- ARGV: prefix, job, token, renders. A lease that ends without a completion (failed,
-- given back, lost) reports the sample renders it stored. Returns the renders added: 0
-- when this token's were added before, or the job is gone.
return add_renders(ARGV[2], ARGV[3], ARGV[4])

-- the chunk returns neither a function nor a table
return 42

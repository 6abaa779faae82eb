"""Background jobs in PostgreSQL: chunked work that any number of workers, on any machines, share.

A job is split into chunks when it is submitted. Workers lease one chunk at a time
(``FOR UPDATE SKIP LOCKED``), and write its output in the same transaction that marks it
done, only if they still hold the lease. A worker that dies loses its lease when it runs
out; another worker redoes that chunk. No row is lost, none is written twice.
"""

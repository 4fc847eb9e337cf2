"""The worker side: what runs a job, in whatever process runs it.

- reporting.py: what jobs call (``jobnb.progress``, ``jobnb.record``) and where it goes
- interrupts.py: the exceptions that stop a running job
- runner.py: runs one payload (logs, progress, outcome): what every backend runs
- notebook_client.py: a notebook job's nbclient client (imports nbclient)
- child.py: a clean worker process the kernel or a queue worker drives, one job at a time
- subprocess_worker.py: that process's entry point (``python -m``)
- recorded_job.py: a queue worker's run of one job whose record is in a records store
- process_tree.py: every process a worker started, found and killed (Linux)

Below the backends, which use it; above the payloads, which it runs.
"""

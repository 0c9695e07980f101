"""Written contacts and every other routed task (issue 18): the task model (`tasks.model`),
the per-process desk the web side opens and answers tasks through (`tasks.desk`)."""

"""The schedule tables of installs before the Scheduler, and their one-way migration into the store."""

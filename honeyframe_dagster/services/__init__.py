"""The long-running processes: the stack `honeyframe up` plans (stack.py) and supervises (supervisor.py), a code
location's server (code_server.py), the daemon's launcher (dagster_daemon.py), the local mail sink and the heartbeat
sensor."""

"""The long-running processes: the stack `honeyframe up` supervises, the local mail sink and the heartbeat sensor."""

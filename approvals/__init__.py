"""Review queues and decisions: reader voice notes, reader applications, privileged changes."""

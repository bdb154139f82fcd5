"""Case management: events, the closed-loop workflow, working hours, statistics, Open311, the command center."""

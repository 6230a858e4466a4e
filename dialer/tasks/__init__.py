"""Follow-up tasks: rules (config/tasks.yaml), deadlines, store and reads, notifications, timer."""

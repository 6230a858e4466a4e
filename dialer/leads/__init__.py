"""Leads (model, store, Lua scripts, CSV import) and Robinson-list requests."""

"""Loading the YAML files people edit: positions (yaml_marks), messages, models and loader, problems."""

"""Loading the YAML files people edit: yaml_marks (positions), error_messages (what a mistake
reads like, render_loc), yaml_file (ConfigProblem, the one problem type), loader (rule files)."""

"""Policy view: roles → grants, tools → roles, groups, sequences, data flow, diagnostics, YAML source."""

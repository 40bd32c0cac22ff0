"""One search from recipe to export: `run.run_search` (settings -> data -> search ->
`finish`: retrain, evaluate, export, report) and `resume.resume_search`."""

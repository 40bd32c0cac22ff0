"""The search: the tuner loop, the oracles, the budget planner and scheduler, trial
files, selection and ensembling of the finished trials."""

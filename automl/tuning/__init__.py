"""The search: the tuner loop, the oracles, the budget planner and scheduler, trial
files, selection and ensembling of the finished trials.

keras-tuner imports Keras and TensorFlow: they are imported first, quietly.
"""

from automl.runtime import env

env.import_tensorflow()

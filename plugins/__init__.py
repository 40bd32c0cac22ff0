"""The built-in task plugins of keras-automl: image, text and audio.

They register through the `automl.tasks` entry-point group like any third-party
plugin, and use only the public `automl` API.
"""

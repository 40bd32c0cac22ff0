"""The keras-tuner hypermodel of a search: a task's body under the problem type's head."""

import keras_tuner as kt

from automl import capabilities, problems
from automl.cost import example_cost
from automl.runtime.memory import released_after
from automl.transfer import init_from
from automl.tuning import space


class TaskHyperModel(kt.HyperModel):
    """Raw input -> task body -> the problem type's head, compiled with the shared optimizer."""

    def __init__(self, task, dataset, keras, objective="val_accuracy", source=None):
        super().__init__(name=task.name)
        self.task, self.dataset, self.keras = task, dataset, keras
        self.objective = objective
        self.source = source  # an earlier run to start from (`automl.transfer.init_from`)
        self.problem = problems.get(dataset.problem)
        self.training_data = dataset.training_only()

    def build(self, hp):
        return self.build_for(hp, space.TrainingPlan())

    def build_for(self, hp, plan, prior=None):
        """The compiled model of `hp`, its learning-rate schedule laid out over `plan`;
        with a class `prior` (`Feeds.prior_of`), its loss balances the classes."""
        model = self.network(hp)
        if not init_from.used(hp):
            capabilities.initialize(self.task, hp, model, self.training_data)
        return self.compiled(hp, model, plan, prior)

    def compiled(self, hp, model, plan, prior=None):
        return space.compile_model(hp, self.keras, model,
                                   self.problem.loss(hp, self.keras, self.training_data, prior),
                                   self.metrics(), plan)

    def metrics(self):
        return self.problem.keras_metrics(self.objective, self.keras, self.dataset.classes)

    def network(self, hp):
        """The uncompiled model of `hp`: the task's body under the problem's head."""
        keras = self.keras
        shape, dtype = self.task.input_spec(self.dataset.meta)
        inputs = keras.Input(shape=shape, dtype=dtype, name="inputs")
        if init_from.chosen(hp, self.source):
            features = self.source.features(keras, inputs)
        else:
            features = self.task.build(hp, inputs, self.training_data)
        outputs = self.problem.head(hp, keras, features, self.training_data)
        return keras.Model(inputs, outputs, name=f"{self.task.name}_{self.problem.name}")

    def trainer(self, hp, model, plan, prior=None):
        """The model `fit` trains: a training twin of `model` (compiled), or `model`."""
        if init_from.used(hp):
            twin = init_from.training_model(self.keras, model, hp)
        else:
            twin = capabilities.training_model(self.task, hp, model, self.training_data)
        return model if twin is None else self.compiled(hp, twin, plan, prior)

    def cost(self, values):
        """Relative cost of one training example of the configuration `values` (`automl.cost`)."""
        hp = kt.HyperParameters()
        hp.values.update(values)

        def network():
            with released_after(self.keras):
                return self.network(hp)

        if init_from.used(hp):
            return example_cost(network())
        return capabilities.example_cost(self.task, hp, self.training_data, network)

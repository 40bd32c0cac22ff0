"""Fine-tuning a pretrained body in few epochs, as the Keras transfer-learning guide does.

The new head trains first with the body frozen (`FROZEN_EPOCHS`), then the body
joins at a lower learning rate: each of its weight updates is scaled by the searched
`rate` (any optimizer, weight decay included). The body's batch normalisation stays
in inference mode throughout, with its pretrained statistics
(`automl.transfer.backbones.freeze_batch_norm`).
"""

FROZEN_EPOCHS = 1


def training_twin(keras, model, body_name, rate):
    """A model that trains `model` with the layer `body_name` frozen, then at `rate` times
    the learning rate; the core compiles and fits it, and exports `model` itself."""
    import tensorflow as tf

    class FineTuning(keras.Model):
        def __init__(self):
            super().__init__(name=f"{model.name}_fine_tuning")
            self.network = model
            self.body_rate = keras.Variable(0.0, trainable=False, name="body_rate")

        def call(self, inputs, training=None):
            return self.network(inputs, training=training)

        def train_step(self, data):
            weights = self.network.get_layer(body_name).trainable_variables
            before = [tf.identity(weight.value) for weight in weights]
            logs = super().train_step(data)
            for weight, old in zip(weights, before):
                weight.assign(old + self.body_rate.value * (weight.value - old))
            return logs

        def fit(self, *args, callbacks=None, **kwargs):
            phases = keras.callbacks.LambdaCallback(on_epoch_begin=self.start_epoch)
            return super().fit(*args, callbacks=[*(callbacks or []), phases], **kwargs)

        def start_epoch(self, epoch, logs=None):
            self.body_rate.assign(0.0 if epoch < FROZEN_EPOCHS else rate)

    return FineTuning()

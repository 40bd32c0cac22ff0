"""The search space every task shares: classification head, loss and optimizer."""

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def add_head(hp, keras, features, num_classes):
    """Dropout and a softmax layer named `probabilities` on top of `features`."""
    rate = hp.Float("head/dropout", 0.0, 0.5, step=0.1, default=0.2)
    if rate:
        features = keras.layers.Dropout(rate, name="head_dropout")(features)
    return keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(features)


def make_optimizer(hp, keras):
    """An optimizer chosen from the shared space (`optimizer/...` names)."""
    name = hp.Choice("optimizer/name", list(OPTIMIZERS), default="adam")
    learning_rate = hp.Float("optimizer/learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3)
    with hp.conditional_scope("optimizer/name", ["adamw", "sgd"]):
        weight_decay = hp.Float("optimizer/weight_decay", 1e-6, 1e-2, sampling="log", default=1e-4)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=weight_decay)
    return keras.optimizers.RMSprop(learning_rate)


def compile_model(hp, keras, model):
    model.compile(
        optimizer=make_optimizer(hp, keras),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model

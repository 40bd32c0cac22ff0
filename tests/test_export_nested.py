"""An ensemble's `model.keras` loads without the search's own losses and metrics."""

import json
import os

import numpy as np


def test_an_ensembles_model_keras_loads_without_its_members_search_losses(tmp_path,
                                                                        tensorflow_alone):
    import keras
    import tensorflow as tf

    from automl.export.saved_model import export_model

    @keras.saving.register_keras_serializable("search_only")
    class SearchLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    def member(name):
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs), name=name)
        model.compile("adam", SearchLoss())
        model.fit(np.ones((4, 4)), np.ones((4, 3)), verbose=0)
        return model

    members = [member("a"), member("b")]
    inputs = keras.Input((4,), name="inputs")
    ensemble = keras.Model(inputs, keras.layers.Average()([m(inputs) for m in members]))
    model_dir = tmp_path / "model"
    export_model(tf, keras, ensemble, {"classes": ["x", "y", "z"]}, (4,), "float32",
                 str(model_dir))

    assert all(m.compiled for m in members)  # the search's models are left as they were
    done = tensorflow_alone(
        "import json, numpy as np, keras\n"
        f"model = keras.saving.load_model({os.fspath(model_dir / 'model.keras')!r})\n"
        "print(json.dumps(model.predict(np.ones((2, 4)), verbose=0).tolist()))\n")
    assert done.returncode == 0, done.stderr[-800:]
    loaded = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(loaded, ensemble.predict(np.ones((2, 4)), verbose=0), atol=1e-6)

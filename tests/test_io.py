"""nnlib.io: a saved network loads back bit-identical, and every bad file gets a clear error."""

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from nnlib import io
from nnlib.layers import Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nnlib.losses import MSE, BinaryCrossEntropy, CrossEntropy, SoftmaxCrossEntropy
from nnlib.network import Sequential
from nnlib.optimizers import Adam


def trained_network(dtype=np.float32, seed=0):
    """A small network trained for a few steps, so its parameters are not the initial ones."""
    rng = np.random.default_rng(seed)
    network = Sequential(
        [Dense(5, 8, rng=rng, dtype=dtype), ReLU(), Dropout(0.25),
         Dense(8, 6, rng=rng, init="xavier", dtype=dtype), LeakyReLU(0.2),
         Dense(6, 3, rng=rng, dtype=dtype)],
        loss=SoftmaxCrossEntropy(label_smoothing=0.1),
    )
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 3, size=40)
    network.fit(X, y, epochs=2, batch_size=8, optimizer=Adam(0.01), rng=rng, verbose=0)
    return network


def sample_inputs(seed=1):
    return np.random.default_rng(seed).normal(size=(20, 5))


def rewrite(path, drop=(), **replace):
    """Rewrite a saved model file with some arrays dropped or replaced (to fake bad files)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name not in drop}
    arrays.update(replace)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def stored_architecture(path):
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive["__architecture__"].tobytes().decode("utf-8"))


def encode_architecture(architecture):
    return np.frombuffer(json.dumps(architecture).encode("utf-8"), dtype=np.uint8)


class TouchWhenUnpickled:
    """Unpickling this object creates the file ``marker``: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


# --- round trip ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_identical_parameters_and_predictions(tmp_path, dtype):
    network = trained_network(dtype)
    path = tmp_path / "model.npz"
    io.save(network, path)
    loaded = io.load(path)

    original, restored = network.parameters(), loaded.parameters()
    assert list(restored) == list(original)
    for name in original:
        assert restored[name].dtype == original[name].dtype == np.dtype(dtype)
        assert np.array_equal(restored[name], original[name]), name
    X = sample_inputs()
    assert np.array_equal(loaded.predict_proba(X), network.predict_proba(X))
    assert [layer.get_config() for layer in loaded.layers] == \
        [layer.get_config() for layer in network.layers]
    assert loaded.loss.get_config() == network.loss.get_config()


def test_loaded_parameters_are_independent_of_the_original(tmp_path):
    network = trained_network()
    io.save(network, tmp_path / "model.npz")
    loaded = io.load(tmp_path / "model.npz")
    before = network.parameters()["0.W"].copy()
    loaded.parameters()["0.W"][...] = 0
    assert np.array_equal(network.parameters()["0.W"], before)


@pytest.mark.parametrize("layers, loss", [
    ([Sigmoid(), Tanh()], MSE()),
    ([Tanh(), Softmax()], CrossEntropy()),
    ([Sigmoid()], None),
])
def test_round_trip_of_other_layers_and_losses(tmp_path, layers, loss):
    rng = np.random.default_rng(3)
    out_features = 1 if loss is None else 4
    network = Sequential([Dense(5, 4, rng=rng), *layers, Dense(4, out_features, rng=rng),
                          *([Sigmoid()] if loss is None else
                            [Softmax()] if isinstance(loss, CrossEntropy) else [])], loss=loss)
    io.save(network, tmp_path / "model.npz")
    loaded = io.load(tmp_path / "model.npz")
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in network.layers]
    assert type(loaded.loss) is type(network.loss)
    X = sample_inputs()
    assert np.array_equal(loaded.predict_proba(X), network.predict_proba(X))


def test_binary_cross_entropy_network_round_trips(tmp_path):
    rng = np.random.default_rng(4)
    network = Sequential([Dense(5, 3, rng=rng), Tanh(), Dense(3, 1, rng=rng), Sigmoid()],
                         loss=BinaryCrossEntropy())
    io.save(network, tmp_path / "model.npz")
    X = sample_inputs()
    assert np.array_equal(io.load(tmp_path / "model.npz").predict(X), network.predict(X))


def test_compressed_file_round_trips_and_is_a_compressed_zip(tmp_path):
    import zipfile

    network = trained_network()
    io.save(network, tmp_path / "model.npz", compressed=True)
    with zipfile.ZipFile(tmp_path / "model.npz") as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    X = sample_inputs()
    assert np.array_equal(io.load(tmp_path / "model.npz").predict_proba(X),
                          network.predict_proba(X))


def test_the_file_is_a_plain_npz_with_the_documented_entries(tmp_path):
    network = trained_network()
    io.save(network, tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        names = set(archive.files)
        assert int(archive["__format_version__"]) == io.FORMAT_VERSION
        assert archive["__architecture__"].dtype == np.uint8
    assert names == {"__format_version__", "__architecture__", *network.parameters()}
    architecture = stored_architecture(tmp_path / "model.npz")
    assert architecture["format_version"] == io.FORMAT_VERSION
    assert architecture["dtype"] == "float32"
    assert architecture["layers"][0] == network.layers[0].get_config()
    assert architecture["loss"] == {"class_name": "SoftmaxCrossEntropy", "label_smoothing": 0.1}


# --- paths and atomic writes --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["model.npz", "model.weights", "model"])
@pytest.mark.parametrize("as_type", [str, Path])
def test_the_file_name_given_is_the_one_written_and_read(tmp_path, name, as_type):
    network = trained_network()
    written = io.save(network, as_type(tmp_path / name))
    assert written == tmp_path / name
    assert sorted(os.listdir(tmp_path)) == [name]  # no ".npz" appended, no temporary file left
    X = sample_inputs()
    assert np.array_equal(io.load(as_type(tmp_path / name)).predict_proba(X),
                          network.predict_proba(X))


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "model.npz"
    io.save(trained_network(seed=0), path)
    second = trained_network(seed=1)
    io.save(second, path)
    X = sample_inputs()
    assert np.array_equal(io.load(path).predict_proba(X), second.predict_proba(X))


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    first = trained_network(seed=0)
    io.save(first, path)

    def write_half_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        io.save(trained_network(seed=1), path)
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["model.npz"]
    X = sample_inputs()
    assert np.array_equal(io.load(path).predict_proba(X), first.predict_proba(X))


def test_save_into_a_missing_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.save(trained_network(), tmp_path / "no such folder" / "model.npz")


def test_save_refuses_something_that_is_not_a_network(tmp_path):
    with pytest.raises(TypeError, match="Sequential"):
        io.save([Dense(2, 2)], tmp_path / "model.npz")


class ScaledReLU(ReLU):
    """A custom layer: io cannot rebuild it, since only nnlib's own layers are known by name."""

    def forward(self, x, training=False):
        return 2 * super().forward(x, training)


class HalfMSE(MSE):
    def forward(self, output, y):
        return super().forward(output, y) / 2


@pytest.mark.parametrize("layers, loss, refused", [
    ([Dense(5, 3), ScaledReLU()], None, "layer 1, a ScaledReLU"),
    ([Dense(5, 3)], HalfMSE(), "loss"),
])
def test_save_refuses_custom_layers_and_losses_before_writing(tmp_path, layers, loss, refused):
    with pytest.raises(TypeError, match=refused):
        io.save(Sequential(layers, loss=loss), tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def tiny_weights(fan_in, fan_out, rng, dtype=np.float32):
    """A custom initialiser: load() cannot rebuild it, since it knows initialisers by name."""
    return np.full((fan_in, fan_out), 0.01, dtype=dtype)


def test_save_refuses_a_custom_init_function_and_says_how_to_fix_it(tmp_path):
    network = Sequential([Dense(5, 3, init=tiny_weights), ReLU()])
    path = tmp_path / "model.npz"
    with pytest.raises(TypeError, match=r"layer 0, Dense\(5 -> 3\).*init='tiny_weights'.*"
                                        r"network\.layers\[0\]\.init = 'he'"):
        io.save(network, path)
    assert os.listdir(tmp_path) == []
    network.layers[0].init = "he"  # the fix the message gives: the weights themselves are kept
    loaded = io.load(io.save(network, path))
    np.testing.assert_array_equal(loaded.layers[0].params["W"], np.full((5, 3), 0.01, np.float32))


def test_save_refuses_parameters_that_do_not_match_their_layer(tmp_path):
    network = Sequential([Dense(5, 3)])
    network.layers[0].params["W"] = np.zeros((3, 5), np.float32)  # replaced by hand, transposed
    with pytest.raises(TypeError, match=r"could not rebuild it.*'0\.W'.*\(5, 3\).*\(3, 5\)"):
        io.save(network, tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


# --- bad files ----------------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    io.save(trained_network(), path)
    return path


def test_missing_file_is_a_file_not_found_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.npz"):
        io.load(tmp_path / "nothere.npz")


def test_a_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(io.ModelFileError, match="folder"):
        io.load(tmp_path)


@pytest.mark.parametrize("content, reason", [
    (b"weights,0.1,0.2\n", r"not an \.npz archive"),
    (b"", r"not an \.npz archive"),
    (b"PK\x03\x04 truncated", "damaged"),
])
def test_a_file_that_is_not_an_npz_is_refused(tmp_path, content, reason):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(io.ModelFileError, match=reason) as error:
        io.load(path)
    assert str(path) in str(error.value)
    assert isinstance(error.value, ValueError)


def test_a_single_npy_array_is_refused(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(io.ModelFileError, match=r"single \.npy array"):
        io.load(path)


def test_a_pickle_file_is_refused_without_being_executed(tmp_path):
    path = tmp_path / "model.pkl"
    marker = tmp_path / "pickle_was_executed"
    path.write_bytes(pickle.dumps({"W": TouchWhenUnpickled(marker)}))
    with pytest.raises(io.ModelFileError, match="pickle"):
        io.load(path)
    assert not marker.exists()


def test_an_npz_carrying_a_pickled_object_is_refused_without_executing_it(tmp_path, saved):
    marker = tmp_path / "pickle_was_executed"
    evil = np.empty(1, dtype=object)
    evil[0] = TouchWhenUnpickled(marker)
    rewrite(saved, **{"0.W": evil})
    with pytest.raises(io.ModelFileError, match="pickle") as error:
        io.load(saved)
    assert "'0.W'" in str(error.value)
    assert not marker.exists()


def test_an_npz_from_elsewhere_is_not_a_model_file(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.zeros((2, 2)))
    with pytest.raises(io.ModelFileError, match="__format_version__"):
        io.load(path)


def test_a_newer_format_version_asks_for_a_newer_nnlib(saved):
    rewrite(saved, __format_version__=np.array(io.FORMAT_VERSION + 1))
    with pytest.raises(io.ModelFileError, match=f"format {io.FORMAT_VERSION + 1}.*Upgrade nnlib"):
        io.load(saved)


@pytest.mark.parametrize("version", [np.array(0), np.array([1, 1]), np.array(1.0)])
def test_an_invalid_format_version_is_refused(saved, version):
    rewrite(saved, __format_version__=version)
    with pytest.raises(io.ModelFileError, match="version"):
        io.load(saved)


def test_a_missing_parameter_array_is_named(saved):
    rewrite(saved, drop=["3.b"])
    with pytest.raises(io.ModelFileError, match=r"lacks .*'3\.b'"):
        io.load(saved)


def test_an_extra_array_is_named(saved):
    rewrite(saved, **{"9.W": np.zeros(2, np.float32)})
    with pytest.raises(io.ModelFileError, match=r"'9\.W'"):
        io.load(saved)


def test_a_parameter_of_the_wrong_shape_is_named_with_both_shapes(saved):
    with np.load(saved) as archive:
        transposed = archive["0.W"].T.copy()
    rewrite(saved, **{"0.W": transposed})
    with pytest.raises(io.ModelFileError, match=r"'0\.W'.*\(5, 8\).*\(8, 5\)"):
        io.load(saved)


def test_a_parameter_of_the_wrong_dtype_is_named(saved):
    with np.load(saved) as archive:
        as_float64 = archive["0.b"].astype(np.float64)
    rewrite(saved, **{"0.b": as_float64})
    with pytest.raises(io.ModelFileError, match=r"'0\.b'.*float32.*float64"):
        io.load(saved)


def test_an_unknown_layer_class_is_named(saved):
    architecture = stored_architecture(saved)
    architecture["layers"][1] = {"class_name": "Conv9D"}
    rewrite(saved, __architecture__=encode_architecture(architecture))
    with pytest.raises(io.ModelFileError, match=r"layer 1.*Conv9D"):
        io.load(saved)


def test_a_layer_config_with_missing_arguments_is_refused(saved):
    architecture = stored_architecture(saved)
    del architecture["layers"][0]["in_features"]
    rewrite(saved, __architecture__=encode_architecture(architecture))
    with pytest.raises(io.ModelFileError, match="layer 0"):
        io.load(saved)


def test_layers_that_do_not_fit_together_are_refused(saved):
    architecture = stored_architecture(saved)
    architecture["layers"][3]["in_features"] = 7
    rewrite(saved, __architecture__=encode_architecture(architecture))
    with pytest.raises(io.ModelFileError, match="do not fit together"):
        io.load(saved)


def test_an_unknown_loss_class_is_named(saved):
    architecture = stored_architecture(saved)
    architecture["loss"] = {"class_name": "HingeLoss"}
    rewrite(saved, __architecture__=encode_architecture(architecture))
    with pytest.raises(io.ModelFileError, match=r"loss.*HingeLoss"):
        io.load(saved)


@pytest.mark.parametrize("architecture", [
    np.frombuffer(b"{not json", dtype=np.uint8),
    np.frombuffer(b"\xff\xfe", dtype=np.uint8),
    encode_architecture(["a list, not an object"]),
    np.zeros((2, 2), dtype=np.uint8),
])
def test_a_broken_architecture_is_refused(saved, architecture):
    rewrite(saved, __architecture__=architecture)
    with pytest.raises(io.ModelFileError, match="architecture"):
        io.load(saved)


def test_a_missing_architecture_is_refused(saved):
    rewrite(saved, drop=["__architecture__"])
    with pytest.raises(io.ModelFileError, match="__architecture__"):
        io.load(saved)

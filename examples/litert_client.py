"""Score a .tflite with LiteRT alone: python litert_client.py MODEL.tflite TEST_FOLDER_OR_CSV"""
import csv, glob, os, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter

model, data = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(model))
labels = open(os.path.join(here, "labels.txt"), encoding="utf-8").read().splitlines()
runner = Interpreter(model_path=model).get_signature_runner()
inputs = runner.get_input_details()
if os.path.exists(os.path.join(here, "tokenizer.json")):  # text: token ids from the tokenizer beside it
    sys.path.insert(0, here); from tokenizer import Tokenizer  # noqa: E402
    tokenizer = Tokenizer.load(os.path.join(here, "tokenizer.json"))

def quantized(x, d):  # float values -> the input's integer type, where it is quantised
    scale, zero = d["quantization"]
    if scale:
        info = np.iinfo(d["dtype"])
        x = np.clip(np.round(np.asarray(x) / scale + zero), info.min, info.max)
    return np.asarray(x).astype(d["dtype"])

def features(example):  # a text or a file path -> {input name: [1, ...] array}
    if "inputs" not in inputs:
        return {name: np.asarray([ids]) for name, ids in tokenizer.encode(example).items()}
    shape = inputs["inputs"]["shape"]
    if example.lower().endswith(".wav"):  # audio: mono samples in [-1, 1] at the card's sample rate
        import soundfile
        wave = soundfile.read(example, dtype="float32", always_2d=True)[0].mean(axis=1)[:shape[1]]
        return {"inputs": np.pad(wave, (0, shape[1] - len(wave)))[None]}
    from PIL import Image  # image: pixel values 0..255 at the training size
    image = Image.open(example).convert("L" if shape[3] == 1 else "RGB").resize((shape[2], shape[1]))
    return {"inputs": np.asarray(image, np.float32).reshape(shape)}

if data.endswith(".csv"):
    pairs = [(row["text"], row["label"]) for row in csv.DictReader(open(data, encoding="utf-8"))]
else:
    pairs = [(path, path.split(os.sep)[-2]) for path in sorted(glob.glob(os.path.join(data, "*", "*")))]
scores = [runner(**{k: quantized(v, inputs[k]) for k, v in features(x).items()}) for x, _ in pairs]
right = sum(labels[int(np.argmax(next(iter(s.values()))))] == y for s, (_, y) in zip(scores, pairs))
print(f"accuracy {right / len(pairs):.4f} on {len(pairs)} examples")

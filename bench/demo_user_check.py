"""A user's check of a zoo's entries, independent of the zoo's own timing and scoring code.

Per entry: a plain onnxruntime loop on the exported fp32 ONNX file (1 thread, 50 warm-up runs, then the
median of 300 timed runs) against the card's limit and budget, and the file's top-1 on the built-in
digits' validation split against the card's top-1. Prints one line per entry.

    .venv/bin/python bench/demo_user_check.py runs/demo
"""

from __future__ import annotations

import glob
import json
import sys
import time

import numpy as np
import onnxruntime as ort

from ofa.data import open_dataset
from ofa.data.transforms import resize_batch


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def median_ms(sess: ort.InferenceSession, r: int, warmup: int = 50, runs: int = 300) -> float:
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((1, 3, r, r)).astype(np.float32)
    for _ in range(warmup):
        sess.run(None, {name: x})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sess.run(None, {name: x})
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def top1(sess: ort.InferenceSession, r: int) -> tuple[float, int]:
    name = sess.get_inputs()[0].name
    correct = total = 0
    for images, labels in open_dataset("builtin").loader("val", batch_size=1, shuffle=False):
        out = sess.run(None, {name: resize_batch(images, r).numpy()})[0]
        correct += int((out.argmax(1) == labels.numpy()).sum())
        total += len(labels)
    return correct / total, total


def main(root: str) -> None:
    for card_path in sorted(glob.glob(f"{root}/*/card.json")):
        card = json.load(open(card_path))
        onnx = next(e for e in card["exports"] if e["format"] == "onnx" and e["precision"] == "fp32")
        sess = session(f"{card_path.rsplit('/', 1)[0]}/{onnx['file']}")
        r, lat = card["subnet"]["r"], card["latency_ms"]
        accuracy, images = top1(sess, r)
        print(json.dumps({"entry": card["name"], "status": card["status"], "budget_ms": card["budget_ms"],
                          "limit_ms": lat["limit_ms"], "card_measured_ms": lat["measured"],
                          "my_median_ms": round(median_ms(sess, r), 4), "card_top1": card["accuracy"]["top1"],
                          "onnx_top1": accuracy, "images": images}))


if __name__ == "__main__":
    main(sys.argv[1])

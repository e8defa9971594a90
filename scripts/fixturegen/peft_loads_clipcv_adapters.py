"""Checks that PEFT loads the adapters clipcv writes (issue 4 point 5), and reproduces clipcv's predictions.

Tests/TrainingTests/Fixtures/clipcv_adapters/<case>/ holds an adapter written by `clipcv train` (one with the same
layers in both towers: PEFT's list form; one with different layers per tower: a regex `target_modules`) and the
`clipcv predict` scores. This module loads each with `PeftModel.from_pretrained(CLIPModel.from_pretrained(M), DIR)`,
asserts every saved tensor was loaded into a LoRA module, and that PEFT's P(class 1) equals clipcv's within 1e-5.
It writes nothing; the Swift test `PEFTAdapterFileTests` re-trains and checks the files still come out the same.
"""
import csv
import json
import pathlib

import numpy as np
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import CLIPModel


def generate(repo_root: pathlib.Path) -> None:
    fixtures = repo_root / "Tests" / "TrainingTests" / "Fixtures"
    data = fixtures / "train_tiny"
    reference = json.loads((data / "training_reference.json").read_text())
    pixels = torch.tensor(np.stack([np.load(data / f"{case}.npy") for case in reference["case_ids"]]))
    ids = torch.tensor(reference["class_input_ids"])
    for case in sorted((fixtures / "clipcv_adapters").iterdir()):
        base = CLIPModel.from_pretrained(repo_root / "Tests" / "CLIPTests" / "Fixtures" / "vitb16like", dtype=torch.float32)
        model = PeftModel.from_pretrained(base, case)
        saved = load_file(case / "adapter_model.safetensors")
        state = {k.replace(".default", ""): v for k, v in model.state_dict().items()}
        for key, tensor in saved.items():
            assert key in state, f"{case.name}: PEFT did not create {key}"
            assert torch.equal(state[key], tensor), f"{case.name}: {key} loaded with other values"
        lora_modules = {k for k in state if "lora_A" in k}
        assert len(lora_modules) == len([k for k in saved if "lora_A" in k]), f"{case.name}: PEFT adapted other modules"
        with torch.no_grad():
            scores = model(input_ids=ids, pixel_values=pixels).logits_per_image.softmax(-1)[:, 1].numpy()
        with open(case / "predictions.csv") as f:
            expected = np.array([float(row["score"]) for row in csv.DictReader(f)])
        worst = float(np.abs(scores - expected).max())
        assert worst <= 1e-5, f"{case.name}: PEFT scores differ from clipcv's by {worst}"
        print(f"peft loads clipcv adapter {case.name}: {len(saved)} tensors, max |score diff| {worst:.1e}")


if __name__ == "__main__":
    generate(pathlib.Path(__file__).resolve().parents[2])

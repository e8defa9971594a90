"""Reference pixel values for clipcv's CLIP image preprocessing (Cohort target, `CLIPPreprocessor`).

Writes Tests/CohortTests/Fixtures/preprocessing/:
  <case>.png                       8-bit grayscale input image
  <case>/preprocessor_config.json  written by transformers' save_pretrained (absent: OpenAI defaults)
  <case>.f32                       expected pixel_values, float32 little-endian, shape [3, H, W]
  cases.json                       one entry per case: files, shapes, the resized size transformers computes

The reference is transformers' Pillow image processor (`CLIPImageProcessorPil`; `CLIPImageProcessor` falls back to
it when torchvision is absent): gray -> RGB, Pillow resize, center crop, rescale 1/255, normalize.

Run alone: python3 scripts/fixturegen/preprocessing.py   (or through scripts/make_fixtures.py)
"""
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from transformers.image_transforms import get_resize_output_image_size
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

# name, (width, height), processor settings (None: no preprocessor_config.json, i.e. OpenAI defaults), what it covers
CASES = [
    ("wide_300x200", (300, 200), dict(size={"shortest_edge": 48}, crop_size={"height": 48, "width": 48}),
     "landscape, downscale x4.2 (antialiased bicubic), center crop of the long side"),
    ("small_64x48_openai", (64, 48), None,
     "no preprocessor_config.json: OpenAI defaults, upscale 48 -> 224, crop 298x224 -> 224x224"),
    ("square_512", (512, 512), dict(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
     "square, downscale x16 (wide filter support)"),
    ("tall_90x157_bilinear", (90, 157), dict(size=40, crop_size={"height": 40, "width": 32}, resample=2,
                                             image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3]),
     "portrait, legacy integer `size` (as openai/clip-vit-base-patch32 writes it), non-square crop, bilinear, "
     "custom mean/std"),
    ("pad_50x30_exact", (50, 30), dict(size={"height": 20, "width": 36}, crop_size={"height": 28, "width": 30},
                                       do_normalize=False),
     "exact (height, width) resize; crop taller than the image pads with zeros; no normalization"),
    ("odd_37x41", (37, 41), dict(size=45, crop_size=44),
     "odd sizes, slight upscale, odd crop offsets; legacy integer `size` and `crop_size`"),
]


def test_image(width, height, seed):
    """Smooth anatomy-like shading, hard black/white blocks (bicubic overshoot is clipped) and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = 120 + 70 * np.sin(x / (width / 5.3)) * np.cos(y / (height / 3.7)) + 25 * (x / width - y / height)
    image += rng.normal(0, 12, (height, width))
    image[height // 5: height // 2, width // 4: width // 2] = 255
    image[height // 2: 3 * height // 4, width // 2: 7 * width // 8] = 0
    cy, cx, r = 0.7 * height, 0.25 * width, 0.15 * min(width, height)
    image[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = 200
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def generate(repo_root):
    out = Path(repo_root) / "Tests/CohortTests/Fixtures/preprocessing"
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for seed, (name, (width, height), settings, covers) in enumerate(CASES):
        pixels = test_image(width, height, seed)
        Image.fromarray(pixels, mode="L").save(out / f"{name}.png")
        image = Image.open(out / f"{name}.png")
        assert image.mode == "L" and image.size == (width, height)

        if settings is None:
            processor = CLIPImageProcessorPil()
        else:
            if isinstance(settings.get("size"), int):
                # Legacy file layout (plain integers), written by hand: save_pretrained would rewrite it as a dict.
                (out / name).mkdir(exist_ok=True)
                (out / name / "preprocessor_config.json").write_text(json.dumps(
                    {"image_processor_type": "CLIPImageProcessor", **settings}, indent=2) + "\n")
            else:
                CLIPImageProcessorPil(**settings).save_pretrained(out / name)
            # Read back the way users' checkpoints are read, so the file's meaning is transformers' own.
            processor = CLIPImageProcessorPil.from_pretrained(out / name)
        values = processor(image, return_tensors="np")["pixel_values"][0].astype("<f4")
        values.tofile(out / f"{name}.f32")

        size = processor.size
        if size.get("shortest_edge"):
            resized = get_resize_output_image_size(pixels[:, :, None], size=size["shortest_edge"], default_to_square=False,
                                                   input_data_format="channels_last")
        else:
            resized = (size["height"], size["width"])
        entries.append({
            "name": name,
            "covers": covers,
            "image": f"{name}.png",
            "model_directory": name if settings is not None else None,
            "expected": f"{name}.f32",
            "shape": list(values.shape),
            "resized_height_width": [int(resized[0]), int(resized[1])],
        })
        print(f"preprocessing: {name}: {width}x{height} -> resized {tuple(resized)} -> {values.shape}", file=sys.stderr)
    (out / "cases.json").write_text(json.dumps({
        "reference": "transformers CLIPImageProcessorPil (Pillow resize)",
        "cases": entries,
    }, indent=1) + "\n")


if __name__ == "__main__":
    generate(Path(__file__).resolve().parents[2])

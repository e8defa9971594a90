#!/usr/bin/env python3
"""PyTorch + transformers + PEFT timings of the configurations `clipcv bench encode` and `clipcv bench train` measure.

Optional (needs `pip install torch transformers peft`; never run by the tests or CI): it lets users compare clipcv
with the Python stack on their own hardware. The model is a random-init `CLIPModel` built in memory (no download):
ViT-B/32 is transformers' `CLIPConfig()` default, the configuration of openai/clip-vit-base-patch32.

  encode       16 images 224² and the 2 class prompts, forward only (image and text features), no gradients.
  train:P      batch 16 + the 2 class prompts, LoRA on q_proj,v_proj of both towers (r 8, alpha 16, no dropout) at
               placement P (lowest:K, highest:K or all, through PEFT's `layers_to_transform`); loss = cross-entropy
               of logits_per_image (exp(logit_scale) · cos) against the labels; AdamW.

Each configuration runs in its own Python process (so `peak_rss_mb` is its own) and prints one JSON object with
clipcv's keys: seconds are medians over `--steps` steps after `--warmup` untimed ones; `gflops` counts the FLOPs
torch's FlopCounterMode sees in one step; `sgemm_gflops` is torch's fp32 800×768×3072 product in the same process.

  python3 scripts/bench_torch.py                      # encode, train:lowest:5, train:highest:5, train:all
  python3 scripts/bench_torch.py --threads 2 --only train:lowest:5 --precision bf16
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

DEFAULT_CONFIGURATIONS = ["encode", "train:lowest:5", "train:highest:5", "train:all"]
PROMPTS = ["a CT image of a tumour that responds to chemotherapy",
           "a CT image of a tumour that does not respond to chemotherapy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--arch", choices=["vit-b-32", "vit-b-16"], default="vit-b-32")
    parser.add_argument("--batch", type=int, default=16, help="images per batch")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16 = torch.autocast(cpu, bfloat16) around the forward pass")
    parser.add_argument("--only", default=",".join(DEFAULT_CONFIGURATIONS),
                        help="comma-separated configurations: encode, train:lowest:K, train:highest:K, train:all")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configurations = [c for c in args.only.split(",") if c]
    if args.steps < 1 or any(not valid(c) for c in configurations):
        parser.error("configurations are encode, train:lowest:K, train:highest:K or train:all; --steps ≥ 1")

    if not args.single:
        # One process per configuration: peak RSS and allocator state do not leak from one into the next.
        for configuration in configurations:
            command = [sys.executable, __file__, "--single", "--only", configuration] + forwarded(args)
            result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
            if result.returncode != 0:
                sys.exit(f"bench_torch: {configuration} failed (exit status {result.returncode})")
            print(result.stdout.strip(), flush=True)
        return

    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers/PEFT deprecation notices
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    configuration = configurations[0]
    report = encode(args) if configuration == "encode" else train(args, configuration.split(":", 1)[1])
    report.update(threads=torch.get_num_threads(), precision=args.precision, torch=torch.__version__,
                  sgemm_gflops=sgemm_rate())
    report["sgemm_fraction"] = report["gflops"] / report["sgemm_gflops"]
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(report, sort_keys=True))


def valid(configuration):
    if configuration in ("encode", "train:all"):
        return True
    kind, _, count = configuration.partition(":")[2].partition(":")
    return configuration.startswith("train:") and kind in ("lowest", "highest") and count.isdigit() and int(count) > 0


def forwarded(args):
    return ["--threads", str(args.threads), "--steps", str(args.steps), "--warmup", str(args.warmup),
            "--arch", args.arch, "--batch", str(args.batch), "--lora-rank", str(args.lora_rank),
            "--precision", args.precision]


def build_model(arch):
    from transformers import CLIPConfig, CLIPModel
    config = CLIPConfig()
    if arch == "vit-b-16":
        config.vision_config.patch_size = 16
    return CLIPModel(config).eval()  # eval: no dropout anywhere (CLIP's own dropouts are 0 anyway)


def inputs(model, batch):
    """Random pixels and the two prompts as token ids: SOT, one id per word (+1), EOT, padded to the longer one.

    The ids do not matter with random weights; the lengths do. They equal clipcv's bench prompts, and padding to the
    longest with an attention mask is what `CLIPProcessor(..., padding=True)` gives.
    """
    import torch
    size = model.config.vision_config.image_size
    pixels = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))
    start, end = 49406, 49407
    ids = [[start] + [320] * (len(p.split()) + 1) + [end] for p in PROMPTS]
    length = max(map(len, ids))
    input_ids = torch.tensor([row + [end] * (length - len(row)) for row in ids])
    attention_mask = torch.tensor([[1] * len(row) + [0] * (length - len(row)) for row in ids])
    return pixels, input_ids, attention_mask


def autocast(args):
    import contextlib
    import torch
    if args.precision == "bf16":
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def encode(args):
    import torch
    model = build_model(args.arch)
    pixels, input_ids, attention_mask = inputs(model, args.batch)

    def images():
        with torch.inference_mode(), autocast(args):
            return model.get_image_features(pixel_values=pixels)

    def prompts():
        with torch.inference_mode(), autocast(args):
            return model.get_text_features(input_ids=input_ids, attention_mask=attention_mask)

    images_s = median_seconds(images, args)
    prompts_s = median_seconds(prompts, args)
    flops = counted_flops(lambda: (images(), prompts()))
    return dict(benchmark="encode", architecture=args.arch, images=args.batch, prompts=len(PROMPTS),
                images_s=images_s, prompts_s=prompts_s, forward_s=images_s + prompts_s,
                gflops=flops / (images_s + prompts_s) / 1e9)


def train(args, placement):
    import torch
    from peft import LoraConfig, get_peft_model
    model = build_model(args.arch)
    layers = model.config.vision_config.num_hidden_layers
    assert layers == model.config.text_config.num_hidden_layers, "placements index both towers alike"
    if placement == "all":
        chosen = None
    else:
        kind, count = placement.split(":")
        count = min(int(count), layers)
        chosen = list(range(count)) if kind == "lowest" else list(range(layers - count, layers))
    config = LoraConfig(r=args.lora_rank, lora_alpha=2 * args.lora_rank, lora_dropout=0.0,
                        target_modules=["q_proj", "v_proj"], layers_to_transform=chosen,
                        layers_pattern=None if chosen is None else "layers")
    model = get_peft_model(model, config)
    # Non-zero B (PEFT starts it at zero) as in the middle of training; the FLOPs are the same either way.
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.01)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    pixels, input_ids, attention_mask = inputs(model, args.batch)
    labels = torch.arange(args.batch) % 2

    def forward():
        with autocast(args):
            logits = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixels).logits_per_image
        return torch.nn.functional.cross_entropy(logits.float(), labels)

    times = {"forward": [], "backward": [], "optimizer": []}
    for step in range(args.warmup + args.steps):
        optimizer.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        loss = forward()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        if step >= args.warmup:
            times["forward"].append(t1 - t0)
            times["backward"].append(t2 - t1)
            times["optimizer"].append(t3 - t2)
    steps = [f + b + o for f, b, o in zip(times["forward"], times["backward"], times["optimizer"])]
    step_s = statistics.median(steps)
    optimizer.zero_grad(set_to_none=True)
    flops = counted_flops(lambda: forward().backward())
    return dict(benchmark="train", architecture=args.arch, placement=placement, lora_targets="q,v",
                lora_rank=args.lora_rank, batch=args.batch, step_s=step_s,
                forward_s=statistics.median(times["forward"]), backward_s=statistics.median(times["backward"]),
                optimizer_s=statistics.median(times["optimizer"]), gflops=flops / step_s / 1e9,
                trainable_parameters=sum(p.numel() for p in trainable))


def median_seconds(body, args):
    for _ in range(args.warmup):
        body()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def counted_flops(body):
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        body()
    return counter.get_total_flops()


def sgemm_rate():
    """torch's fp32 GFLOP/s on the training step's dominant product, 800×768 · 768×3072 (median of 5)."""
    import torch
    a, b = torch.randn(800, 768), torch.randn(768, 3072)
    torch.mm(a, b)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * 800 * 768 * 3072 / statistics.median(times) / 1e9


if __name__ == "__main__":
    main()

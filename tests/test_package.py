"""The SCF packages, smoke-tested as SCF runs them: unzipped into ``<tmp>/var/user`` (code) and
``<tmp>/opt`` (layer), each handler called with a sample event in a fresh interpreter that cannot see
the development environment (``python -S``, a bare environment, ``PYTHONPATH=/var/user:/opt``).

The interpreter: SCF runs CPython 3.10 and this machine has 3.11 only (Debian 12 ships no 3.10, and
interpreters are not downloaded from outside the package registries). So the session builds the same
packages for 3.11 (``make package PYTHON_VERSION=3.11``, the same script and the same pinned wheel
versions, cp311 builds of them) into ``dist/py3.11`` once, and runs those. The 3.10 build is checked
by the same budget and layout code (``make package``).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra import package
from infra.code import load_deployment, write_cloudbase
from infra.layer import keep_in_layer, read_lock, unpack_wheel
from infra.zips import extract, write_zip
from tests.s3server import S3Settings
from xiaofei.config import ENV_VARS

pytestmark = pytest.mark.slow  # builds the code zips and the dependency layer

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
SMOKE_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
SECRET = "smoke-test-secret-0123456789abcdef0123456789"
MARK = "SMOKE-RESULT "

# What runs inside the clean interpreter: import the handler as SCF does (module `index` from
# /var/user), answer each (event, context), then report where things were imported from.
_SCRIPT = """
import json, socket, sys, time
started = time.perf_counter()
args = json.loads(sys.argv[1])
if args.get("localhost_dns"):  # moto serves <bucket>.localhost (virtual hosts); glibc does not resolve it
    _real = socket.getaddrinfo
    def _gai(host, *a, **k):
        return _real("127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host, *a, **k)
    socket.getaddrinfo = _gai
import index

answers = []
for event_file, context_file in args["calls"]:
    with open(event_file) as f:
        event = json.load(f)
    with open(context_file) as f:
        context = json.load(f)
    answers.append(index.main_handler(event, context))
try:
    import torch  # noqa: F401
    torch_importable = True
except ImportError:
    torch_importable = False
where = {m: getattr(sys.modules[m], "__file__", None) for m in
         ("index", "xiaofei", "numpy", "onnxruntime", "PIL", "boto3", "botocore", "jwt", "pydicom")
         if m in sys.modules}
print("@MARK@" + json.dumps({"answers": answers, "torch_importable": torch_importable, "where": where,
                        "sys_path": sys.path, "site": "site" in sys.modules,
                        "seconds": time.perf_counter() - started}))
""".replace("@MARK@", MARK)


def clean_python() -> str:
    """This Python's base interpreter (not the venv's wrapper); with -S it sees no site-packages."""
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    assert ".venv" not in base.parts, base
    return str(base)


FUNCTIONS = ("predict", "history", "model_update")


@dataclass(frozen=True)
class Built:
    out: Path
    summary: dict[str, Any]
    opt: Path  # the unpacked layer, shared by the functions (read-only on SCF)
    code: dict[str, Path]  # each function's unpacked code zip, its /var/user
    seconds: float

    def var_user(self, function: str) -> Path:
        return self.code[function]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``make package PYTHON_VERSION=<this Python>`` once per session (wheels cached, layer reused when
    its inputs are unchanged), unpacked as SCF does: the layer as /opt, each code zip as /var/user."""
    out = ROOT / "dist" / f"py{SMOKE_PYTHON}"
    out.mkdir(parents=True, exist_ok=True)
    root = tmp_path_factory.mktemp("scf")
    started = time.perf_counter()
    with (out.parent / ".package.lock").open("w") as lock:  # another test session may build at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        summary = package.build(
            package.BuildOptions(SMOKE_PYTHON, out, cloudbase=None), report=lambda _: None
        )
        extract(out / "layer.zip", root / "opt")
        code = {name: root / name / "var" / "user" for name in FUNCTIONS}
        for name, target in code.items():
            extract(out / "functions" / f"{name}.zip", target)
    return Built(out, summary, root / "opt", code, time.perf_counter() - started)


@pytest.fixture(scope="session")
def scf_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the handlers keep their store (the local default) and /tmp."""
    return tmp_path_factory.mktemp("var")


def run(built: Built, var_user: Path, calls: list[tuple[str, str]], env: dict[str, str],
        localhost_dns: bool = False) -> dict[str, Any]:  # fmt: skip
    """One fresh interpreter, SCF's layout and variables, nothing inherited from this process."""
    environment = {
        "PYTHONPATH": f"{var_user}:{built.opt}",
        "PYTHONDONTWRITEBYTECODE": "x",
        "USER_CODE_ROOT": f"{var_user}/",
        "TENCENTCLOUD_RUNENV": "SCF",
        "PATH": "/usr/bin:/bin",
        "HOME": str(var_user.parent),
        "LANG": "C.UTF-8",
        **env,
    }
    args = {"calls": [(str(EVENTS / e), str(EVENTS / c)) for e, c in calls], "localhost_dns": localhost_dns}
    done = subprocess.run(
        [clean_python(), "-S", "-c", _SCRIPT, json.dumps(args)],
        cwd=var_user, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    return result


def file_env(root: Path) -> dict[str, str]:
    return {"XIAOFEI_STORAGE": f"file://{root / 'store'}", "XIAOFEI_SECRET": SECRET,
            "XIAOFEI_MODEL_CACHE_DIR": str(root / "tmp" / "models")}  # fmt: skip


def assert_isolated(result: dict[str, Any], var_user: Path, built: Built) -> None:
    assert result["torch_importable"] is False
    assert result["site"] is False
    assert not any("site-packages" in p or ".venv" in p for p in result["sys_path"])
    where = result["where"]
    assert Path(where["index"]).parent == var_user
    assert Path(where["xiaofei"]).is_relative_to(var_user)
    for module in ("numpy", "onnxruntime", "PIL", "jwt"):
        if module in where:
            assert Path(where[module]).is_relative_to(built.opt), (module, where[module])


def http_body(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["isBase64Encoded"] is False
    body: dict[str, Any] = json.loads(answer["body"])
    return body


def assert_prediction(body: dict[str, Any]) -> None:
    assert "error" not in body, body
    assert body["model"]["name"] == "pneumonia"
    labels = {p["label"] for p in body["probabilities"]}
    assert labels == {"normal", "bacterial", "viral"}
    assert abs(sum(p["p"] for p in body["probabilities"]) - 1) < 1e-3
    assert body["disclaimer"]["zh"]


# --- the packages ------------------------------------------------------------------------------------------


def test_packages_are_within_budget_and_sizes_json_says_so(built: Built) -> None:
    sizes = json.loads((built.out / "sizes.json").read_text())
    assert sizes["problems"] == []
    by_name = {a["name"]: a for a in sizes["artifacts"]}
    for name in FUNCTIONS:
        zipped = (built.out / "functions" / f"{name}.zip").stat().st_size
        assert by_name[name]["zip_bytes"] == zipped <= package.FUNCTION_ZIP_BUDGET
    assert by_name["layer"]["zip_bytes"] <= package.LAYER_ZIP_BUDGET
    assert (
        by_name["layer"]["unzipped_bytes"] + by_name["predict"]["unzipped_bytes"] <= package.UNZIPPED_BUDGET
    )
    assert sizes["layer"]["glibc_floor"] in ("2.17", "2.24", "2.27", "2.28")
    assert sizes["layer"]["bytecode_files"] > 0  # built by this interpreter: pycs for every module
    assert all(f["bytecode_files"] > 0 for f in sizes["functions"].values())
    print(f"\npackage build (py{SMOKE_PYTHON}): {built.seconds:.1f} s this session")


def test_code_zips_hold_what_each_function_serves(built: Built) -> None:
    def names(function: str) -> set[str]:
        with zipfile.ZipFile(built.out / "functions" / f"{function}.zip") as zf:
            return set(zf.namelist())

    predict, history, update = (names(function) for function in FUNCTIONS)
    for files in (predict, history, update):
        assert "index.py" in files and "xiaofei/__init__.py" in files
        assert not any("/tests/" in n for n in files)
        assert all(n.split("/")[-2:-1] == ["__pycache__"] for n in files if n.endswith(".pyc"))
    for model in ("pneumonia", "skin"):
        assert {f"xiaofei/models/{model}/model.onnx", f"xiaofei/models/{model}/manifest.json"} <= predict
        assert not any(n.startswith("xiaofei/models/") for n in history)
        assert not any("/golden/" in n for n in predict)
    # the gate's bundled golden set: the skin demo's (drawn); none for pneumonia (real films do not ship)
    assert "xiaofei/models/skin/golden/index.json" in update
    assert not any(n.startswith("xiaofei/models/pneumonia/golden/") for n in update)


def test_zips_are_deterministic(tmp_path: Path) -> None:
    # GIVEN the same sources built twice, in two places, one after the other (code only: the layer
    # goes through the same zip writer)
    def build(out: Path) -> dict[str, tuple[str, str]]:
        summary = package.build(
            package.BuildOptions(SMOKE_PYTHON, out, layer=False, cloudbase=None), lambda _: None
        )
        return {a["name"]: (a["sha256"], a["content_sha256"]) for a in summary["artifacts"]}

    # THEN every code zip is byte-identical (sorted entries, fixed times and modes)
    assert build(tmp_path / "a") == build(tmp_path / "b")
    with zipfile.ZipFile(tmp_path / "a" / "functions" / "history.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} <= {0o644, 0o755}


def test_layer_is_stripped_but_keeps_what_serving_needs(built: Built) -> None:
    with zipfile.ZipFile(built.out / "layer.zip") as zf:
        names = zf.namelist()
    services = {n.split("/")[2] for n in names if n.startswith("botocore/data/") and n.count("/") > 2}
    assert services == {"s3", "sts"}
    assert "botocore/data/endpoints.json" in names and "botocore/cacert.pem" in names
    assert not any(n.startswith(("onnxruntime/tools/", "onnxruntime/transformers/", "sympy/")) for n in names)
    assert not any("/tests/" in n or n.endswith((".h", ".pyi")) for n in names)
    assert not any(n.endswith("dist-info/RECORD") for n in names)
    assert any(n.endswith("dist-info/METADATA") for n in names)
    pinned = {line.split("==")[0] for line in read_lock(SMOKE_PYTHON)}
    assert {"onnxruntime", "numpy", "pillow", "boto3", "pyjwt"} <= pinned
    # DICOM is offered by both clients: pydicom and the decoders of compressed DICOMs ship too
    assert {"pydicom", "pylibjpeg", "pylibjpeg-openjpeg", "pylibjpeg-libjpeg"} <= pinned
    assert any(n.startswith("pydicom/") for n in names) and any(n.startswith("openjpeg/") for n in names)
    assert not any(n.startswith("pydicom/data/test_files/") for n in names)


# --- the handlers, as SCF runs them ----------------------------------------------------------------------


def test_predict_answers_every_trigger_in_a_clean_interpreter(built: Built, scf_root: Path) -> None:
    # GIVEN the predict package as /var/user, the layer as /opt, a store folder (as the default)
    var_user = built.var_user("predict")
    calls = [("function_url_predict.json", "context_scf.json"), ("apigw_predict.json", "context_scf.json"),
             ("cloudbase_http.json", "context_scf.json"), ("cloud_call_predict.json", "context_wx.json"),
             ("cos_upload.json", "context_scf.json")]  # fmt: skip
    # WHEN a fresh interpreter answers each sample event
    result = run(built, var_user, calls, file_env(scf_root))
    # THEN every channel gets the prediction, nothing from the dev environment was used
    url, apigw, cloudbase, call, cos = result["answers"]
    for answer in (url, apigw, cloudbase):
        assert answer["statusCode"] == 200, answer["body"][:500]
        assert_prediction(http_body(answer))
    assert_prediction(call)
    assert cos == {"done": 0, "failed": 0, "skipped": 1}  # not an upload this store handed out
    assert_isolated(result, var_user, built)


def _compressed_dicom(transfer_syntax: str, pillow_format: str) -> bytes:
    """A chest-film-sized 8-bit DICOM whose pixels are a real JPEG / JPEG 2000 codestream."""
    import io as _io

    import numpy as np
    from PIL import Image
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID, generate_uid

    yy, xx = np.mgrid[0:256, 0:256]
    pixels = (80 + 100 * np.exp(-((xx - 128) ** 2 + (yy - 110) ** 2) / 6000)).astype(np.uint8)
    buf = _io.BytesIO()
    Image.fromarray(pixels, "L").save(
        buf, pillow_format, **({"quality": 90} if pillow_format == "JPEG" else {})
    )
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.1.1")
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = UID(transfer_syntax)
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows = ds.Columns = 256
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 8, 8, 7, 0
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    out = _io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_predict_reads_compressed_dicoms_with_the_layers_decoders(
    built: Built, scf_root: Path, tmp_path: Path
) -> None:
    # GIVEN DICOMs compressed as JPEG baseline and JPEG 2000 (what modalities send), as cloud calls
    import base64

    calls = []
    for name, syntax, fmt in (("jpeg", "1.2.840.10008.1.2.4.50", "JPEG"),
                              ("j2k", "1.2.840.10008.1.2.4.91", "JPEG2000")):  # fmt: skip
        event = tmp_path / f"dicom-{name}.json"
        event.write_text(json.dumps({"image": base64.b64encode(_compressed_dicom(syntax, fmt)).decode()}))
        calls.append((str(event), "context_wx.json"))
    # WHEN predict answers them in a clean interpreter with only the layer
    result = run(built, built.var_user("predict"), calls, file_env(scf_root))
    # THEN both are read (pydicom and its plugins are in the layer), not refused as unsupported_format
    for answer in result["answers"]:
        assert_prediction(answer)
    assert Path(result["where"]["pydicom"]).is_relative_to(built.opt)


def test_history_and_model_update_run_in_clean_interpreters(built: Built, scf_root: Path) -> None:
    env = file_env(scf_root)
    # GIVEN the mini program user of context_wx.json made one prediction (stored) in this store
    run(built, built.var_user("predict"), [("cloud_call_predict.json", "context_wx.json")], env)
    # WHEN the history function lists that user's records, and an anonymous browser asks too
    var_user = built.var_user("history")
    result = run(built, var_user, [("cloud_call_history.json", "context_wx.json"),
                                   ("function_url_history.json", "context_scf.json")], env)  # fmt: skip
    listing, anonymous = result["answers"]
    # THEN the user sees their records, the browser without a token is refused (no stack trace)
    assert listing["items"] and all(item["model"]["name"] == "pneumonia" for item in listing["items"])
    assert anonymous["statusCode"] == 401
    assert http_body(anonymous)["error"]["code"] == "unauthorized"
    assert_isolated(result, var_user, built)
    # AND the timer job runs from its own package
    update_dir = built.var_user("model_update")
    timer = run(built, update_dir, [("timer.json", "context_scf.json")], env)["answers"][0]
    assert isinstance(timer, dict) and "error" not in timer, timer


def test_predict_stores_in_s3_through_the_stripped_boto3(
    built: Built, scf_root: Path, s3_settings: S3Settings, s3_server: Any
) -> None:
    # GIVEN the functions' storage is an S3 bucket (virtual-hosted addressing, as COS needs)
    env = {**file_env(scf_root), "XIAOFEI_STORAGE": s3_settings.url, **s3_settings.env,
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}  # fmt: skip
    var_user = built.var_user("predict")
    # WHEN a mini program user predicts
    result = run(built, var_user, [("cloud_call_predict.json", "context_wx.json")], env, localhost_dns=True)
    assert_prediction(result["answers"][0])
    # THEN boto3 from the layer (botocore with only s3/sts data) wrote the image, heatmap and record
    assert Path(result["where"]["boto3"]).is_relative_to(built.opt)
    listed = s3_server.client().list_objects_v2(Bucket=s3_settings.bucket).get("Contents", [])
    prefixes = {obj["Key"].split("/")[0] for obj in listed}
    assert {"images", "heatmaps", "history", "models"} <= prefixes


def test_multi_scf_folder_has_every_handler_serverless_yml_names(built: Built) -> None:
    # GIVEN the handlers as serverless.yml names them ("<module>.<function>" in the multi-scf src folder)
    handlers = [spec.handler.rsplit(".", 1) for spec in load_deployment().functions]
    assert sorted(module for module, _ in handlers) == sorted(FUNCTIONS)
    # THEN a clean interpreter on that folder (+ the layer) finds each of them
    script = (
        "import importlib, sys\n"
        f"for module, function in {handlers!r}:\n"
        "    assert callable(getattr(importlib.import_module(module), function))\n"
        f"print({MARK!r} + 'ok')\n"
    )
    env = {
        "PYTHONPATH": f"{built.out / 'scf'}:{built.opt}",
        "PYTHONDONTWRITEBYTECODE": "x",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [clean_python(), "-S", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and MARK + "ok" in done.stdout, done.stderr[-2000:]


# --- the CloudBase variant -------------------------------------------------------------------------------


def test_cloudbase_folders_are_generated_from_serverless_yml(built: Built, tmp_path: Path) -> None:
    target = tmp_path / "cloudfunctions"
    write_cloudbase(load_deployment(), built.out, target, SMOKE_PYTHON)
    for name in ("predict", "history", "model_update"):
        assert (target / name / "index.py").read_bytes() == (
            ROOT / "functions" / name / "index.py"
        ).read_bytes()
        assert (target / name / "xiaofei" / "adapters" / "scf.py").is_file()
        # no requirements for the cloud to install: CloudBase does that for Node.js only
        assert not (target / name / "requirements.txt").exists()
    config = json.loads((target / "model_update" / "config.json").read_text())
    assert config["triggers"] == [{"name": "model-update", "type": "timer", "config": "0 */10 * * * * *"}]
    assert "triggers" not in json.loads((target / "predict" / "config.json").read_text())
    rc = json.loads((target / "cloudbaserc.json").read_text())
    env = rc["functions"][0]["envVariables"]
    assert env["XIAOFEI_SECRET"] == "{{env.XIAOFEI_SECRET}}" and "${" not in json.dumps(rc)
    assert env["XIAOFEI_CLOUD_ENV"] == "{{env.ENV_ID}}" and set(env) <= ENV_VARS
    assert (target / ".gitignore").read_text().strip().endswith("*")
    # the trimmed layer is bound instead of installDependency (≈190 MB of untrimmed wheels)
    from infra.code import CLOUDBASE_MAX_TIMEOUT_S, CLOUDBASE_MEMORY_MB

    for function in rc["functions"]:
        assert function["installDependency"] is False
        assert 1 <= function["timeout"] <= CLOUDBASE_MAX_TIMEOUT_S
        assert function["memorySize"] in CLOUDBASE_MEMORY_MB
    script = (target / "layer.sh").read_text()
    assert f"--file '{built.out / 'layer.zip'}'" in script and f"--runtime Python{SMOKE_PYTHON}" in script
    for name in ("predict", "history", "model_update"):
        assert f"tcb fn layer bind {name} --layer xiaofei-deps" in script
    done = subprocess.run(["sh", "-n", str(target / "layer.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- rules, without building -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kept"),
    [("botocore/data/s3/2006-03-01/service-2.json.gz", True),
     ("botocore/data/ec2/2016-11-15/service-2.json.gz", False),
     ("botocore/data/endpoints.json", True), ("boto3/data/iam/2010-05-08/resources-1.json", False),
     ("numpy/_core/tests/test_api.py", False), ("numpy/_core/include/numpy/ndarraytypes.h", False),
     ("numpy/__init__.pyi", False), ("numpy/linalg/_linalg.py", True), ("botocore/docs/docstring.py", True),
     ("onnxruntime/tools/symbolic_shape_infer.py", False),
     ("onnxruntime/capi/libonnxruntime.so.1.23.2", False),
     ("onnxruntime/capi/libonnxruntime_providers_shared.so", True),
     ("numpy-2.2.6.dist-info/RECORD", False), ("numpy-2.2.6.dist-info/METADATA", True),
     ("pillow-12.3.0.dist-info/licenses/LICENSE", True), ("pydicom/data/test_files/CT_small.dcm", False),
     ("pydicom/pixels/decoders/base.py", True), ("PIL/__pycache__/Image.cpython-310.pyc", False)],
)  # fmt: skip
def test_layer_keeps_only_what_serving_needs(path: str, kept: bool) -> None:
    assert keep_in_layer(path) is kept


def test_wheel_unpacks_like_site_packages(tmp_path: Path) -> None:
    files = {"pkg/__init__.py": b"x = 1\n", "pkg/tests/test_x.py": b"", "pkg-1.0.dist-info/RECORD": b"",
             "pkg-1.0.dist-info/METADATA": b"Name: pkg\n", "pkg-1.0.data/purelib/extra.py": b"",
             "pkg-1.0.data/scripts/tool": b"#!/bin/sh\n"}  # fmt: skip
    for name, data in files.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_bytes(data)
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    write_zip(wheel, [(name, tmp_path / "src" / name) for name in files])
    assert unpack_wheel(wheel, tmp_path / "site") == (3, 3)
    site = tmp_path / "site"
    installed = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert installed == ["extra.py", "pkg-1.0.dist-info/METADATA", "pkg/__init__.py"]
    evil = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.py", b"")
    with pytest.raises(ValueError, match="unsafe"):
        unpack_wheel(evil, tmp_path / "site")


def test_budgets_fail_the_build(tmp_path: Path) -> None:
    # GIVEN a "function zip" of incompressible bytes over a (tiny) budget
    (tmp_path / "blob").write_bytes(os.urandom(4096))
    write_zip(tmp_path / "f.zip", [("blob", tmp_path / "blob")])
    too_big = package.measure(tmp_path / "f.zip", "predict", "function", budget=1024)
    fine = package.measure(tmp_path / "f.zip", "history", "function", budget=package.FUNCTION_ZIP_BUDGET)
    assert too_big.problems and not fine.problems
    # AND a layer that, unzipped with the code, passes 500 MB
    layer = package.Artifact(
        "layer", "layer", 1, package.UNZIPPED_BUDGET - 10, 1, "", "", package.LAYER_ZIP_BUDGET
    )
    problems = package.check_budgets([too_big, fine, layer], layer)
    assert any(p.startswith("predict:") for p in problems)
    assert any("history + layer" in p for p in problems)
    assert isinstance(package.BudgetExceeded(problems), SystemExit)

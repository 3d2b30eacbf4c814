"""Bad options of the trainers and benchmark scripts are refused with one line naming them, before any work."""

import importlib.util
import sys
from pathlib import Path

import pytest

from benchmarks import MIBenchmarkConfig, features
from infonet import cli
from infonet.train import TrainConfig, train
from infonet.vector_train import VectorTrainConfig, train_vector

ROOT = Path(__file__).resolve().parents[1]


def refusal(capsys, main, *args) -> str:
    """The one line that ``main(*args)`` under ``cli.run_cli`` ends with (exit status 2)."""
    with pytest.raises(SystemExit) as exit:
        cli.run_cli(main, *args)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def parse_refusal(capsys, cls, *argv) -> str:
    with pytest.raises(SystemExit) as exit:
        cli.parse_options(cls, [str(a) for a in argv])
    assert exit.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("device, needle", [("bogus", "is not a device"), ("cuda:99", "no such CUDA device")])
@pytest.mark.parametrize("cls", [TrainConfig, VectorTrainConfig])
def test_trainers_refuse_a_device_this_machine_lacks(capsys, cls, device, needle):
    err = parse_refusal(capsys, cls, "--device", device)
    assert f"--device '{device}'" in err and needle in err


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--min-lr", -1),
        ("--min-lr", 1),  # above --lr: the schedule would rise
        ("--lr", "inf"),
        ("--grad-clip", "nan"),
        ("--grad-clip", 0),
        ("--weight-decay", -0.1),
        ("--warmup-steps", -1),
    ],
)
@pytest.mark.parametrize("cls", [TrainConfig, VectorTrainConfig])
def test_trainers_refuse_absurd_optimiser_options(capsys, cls, flag, value):
    err = parse_refusal(capsys, cls, flag, value)
    assert "invalid training options" in err and flag[2:].replace("-", "_") in err.replace("-", "_")


@pytest.mark.parametrize("flag, value", [("--precision", "bogus"), ("--max-len", 1_000_000_000)])
def test_train_refuses_a_precision_or_length_the_model_lacks(capsys, flag, value):
    err = parse_refusal(capsys, TrainConfig, flag, value)
    assert f"{flag[2:].replace('-', '_')}={value}" in err


@pytest.mark.parametrize("trainer, cls", [(train, TrainConfig), (train_vector, VectorTrainConfig)])
def test_trainers_refuse_an_out_dir_that_is_a_file(capsys, tmp_path, trainer, cls):
    file = tmp_path / "file"
    file.write_text("")
    err = refusal(capsys, trainer, cls(out_dir=str(file), device="cpu"))
    assert f"--out-dir {file} is a file" in err


def benchmark_mi_main():
    spec = importlib.util.spec_from_file_location("benchmark_mi_script", ROOT / "scripts" / "benchmark_mi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--speed-budget-s", "nan"], "--speed-budget-s must be > 0"),
        (["--mv-max-dim", "99"], "--mv-max-dim must be >= 1 and <= 32"),
        (["--out", "{file}"], "--out {file} is a file"),
        (["--device", "bogus"], "device 'bogus' is not a device"),
    ],
)
def test_benchmark_mi_refuses_bad_options_before_any_work(capsys, tmp_path, args, needle):
    file = tmp_path / "file"
    file.write_text("")
    argv = ["--quick", "--out", tmp_path / "out", *(a.format(file=file) for a in args)]
    opts = cli.parse_options(MIBenchmarkConfig, [str(a) for a in argv])
    err = refusal(capsys, benchmark_mi_main(), opts)
    assert needle.format(file=file) in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, needle", [(["--frames", "-1"], "--frames must be >= 1"), (["--step", "0"], "--step must be >= 1")]
)
def test_features_benchmark_refuses_bad_counts(capsys, monkeypatch, tmp_path, args, needle):
    monkeypatch.setattr(sys, "argv", ["features", "--data", str(tmp_path / "missing"), *args])
    assert needle in refusal(capsys, features.main)

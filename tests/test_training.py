"""The training pipeline: loss goes down, resume is exact, Ctrl-C and DDP leave valid checkpoints."""

import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import infonet.train as train_module
from infonet.checkpoint import load_checkpoint, load_pretrained, model_from_checkpoint, save_checkpoint
from infonet.prior import PriorConfig
from infonet.train import TrainConfig, ValidationConfig, train

from .conftest import TINY

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(out_dir, **overrides) -> TrainConfig:
    options = dict(
        out_dir=str(out_dir),
        steps=6,
        batch_size=8,
        min_len=64,
        max_len=128,
        warmup_steps=2,
        prior=PriorConfig(max_components=3, mc_samples=256, bank_size=64, bank_mc_samples=256),
        val=ValidationConfig(sizes=(16, 64), per_level=1, triplets_per_k=1, components=2, mc_samples=2000),
        val_every=1000,
        ckpt_every=1000,
        device="cpu",
        progress=False,
        model=TINY,
    )
    options.update(overrides)
    return TrainConfig(**options)


@pytest.fixture(scope="module")
def val_cache(tmp_path_factory):
    """Builds the (tiny) validation set once; runs copy it into their folders."""
    folder = tmp_path_factory.mktemp("val")
    cfg = tiny_config(folder)
    train_module.ValidationSet.build(cfg.val, folder / "val_set.npz")
    return folder / "val_set.npz"


def prepared(tmp_path, val_cache, name) -> Path:
    out = tmp_path / name
    out.mkdir()
    (out / "val_set.npz").write_bytes(val_cache.read_bytes())
    return out


def read_losses(out: Path) -> list[float]:
    lines = (out / "log.csv").read_text().splitlines()[1:]
    return [float(line.split(",")[4]) for line in lines]


def test_training_lowers_the_loss(tmp_path, val_cache):
    out = prepared(tmp_path, val_cache, "run")
    train(tiny_config(out, steps=60, lr=3e-3, min_len=256, max_len=256, batch_size=16))
    losses = read_losses(out)
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.05, losses


def test_resume_continues_bit_for_bit(tmp_path, val_cache, monkeypatch):
    straight = prepared(tmp_path, val_cache, "straight")
    train(tiny_config(straight))

    # the same run, interrupted by Ctrl-C after three steps and resumed
    sliced = prepared(tmp_path, val_cache, "sliced")
    real_sampler = train_module.sample_prior_batch
    calls = {"n": 0}

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_sampler(*args, **kwargs)

    monkeypatch.setattr(train_module, "sample_prior_batch", interrupting)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(sliced))
    assert load_checkpoint(sliced / "last.pt")["step"] == 3
    monkeypatch.setattr(train_module, "sample_prior_batch", real_sampler)
    train(tiny_config(sliced, resume=True))

    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(sliced / "last.pt")
    assert a["step"] == b["step"] == 6
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert read_losses(straight) == read_losses(sliced)


def test_resume_refuses_changed_options(tmp_path, val_cache):
    out = prepared(tmp_path, val_cache, "run")
    train(tiny_config(out, steps=2))
    with pytest.raises(ValueError, match="lr"):
        train(tiny_config(out, steps=4, lr=1.0, resume=True))
    with pytest.raises(ValueError, match="exists"):
        train(tiny_config(out, steps=4))


def test_invalid_options_are_named():
    with pytest.raises(ValueError, match="init_refine=2"):  # a finer grid of what? it needs --init-from
        TrainConfig(init_refine=2)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="seed=-1"):  # torch's own message named no option
        TrainConfig(seed=-1)


def test_two_process_ddp_on_gloo(tmp_path, val_cache):
    out = prepared(tmp_path, val_cache, "ddp")
    cfg = tiny_config(out, steps=3)
    args = ["--no-progress"]
    for k, v in dataclasses.asdict(cfg).items():
        nested = v.items() if isinstance(v, dict) else [(None, v)]
        for sub, value in nested:
            flag = "--" + (k if sub is None else f"{k}.{sub}").replace("_", "-")
            if isinstance(value, bool):
                args.append(flag if value else flag.replace("--", "--no-", 1))
            elif isinstance(value, (int, float, str)):
                args.append(f"{flag}={value}")
            elif isinstance(value, tuple):
                args += [flag, *map(str, value)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}"]
    res = subprocess.run(
        cmd + [str(ROOT / "scripts" / "train.py"), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert load_checkpoint(out / "last.pt")["step"] == 3


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_is_strict(tmp_path, tiny_model):
    from infonet.checkpoint import model_payload

    path = save_checkpoint(tmp_path / "w.pt", model_payload(tiny_model))
    loaded = model_from_checkpoint(load_checkpoint(path))
    assert loaded.cfg == tiny_model.cfg
    for (k, v), (k2, v2) in zip(tiny_model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    broken = model_payload(tiny_model)
    broken["model"]["surprise"] = torch.zeros(1)
    del broken["model"]["pos"]
    with pytest.raises(ValueError, match="pos.*surprise|surprise.*pos"):
        model_from_checkpoint(broken)


def test_loading_never_unpickles_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"config": {}, "model": Evil()}, path)
    with pytest.raises(ValueError, match="weights_only|unsafe|cannot load"):
        load_checkpoint(path)


def test_load_pretrained_names_missing_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("INFONET_WEIGHTS", str(tmp_path / "nothing.pt"))
    with pytest.raises(FileNotFoundError, match="no InfoNet weights"):
        load_pretrained()
    with pytest.raises(FileNotFoundError, match="not found"):
        load_pretrained(tmp_path / "nothing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pt"):
        load_pretrained(tmp_path / "garbage.pt")


def test_sigterm_saves_a_checkpoint_and_resume_cuts_the_log(tmp_path, val_cache, monkeypatch):
    import signal

    out = prepared(tmp_path, val_cache, "term")
    real_sampler = train_module.sample_prior_batch
    calls = {"n": 0}

    def terminating(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            os.kill(os.getpid(), signal.SIGTERM)  # what `timeout` or a job scheduler sends
        return real_sampler(*args, **kwargs)

    monkeypatch.setattr(train_module, "sample_prior_batch", terminating)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(out))
    step = load_checkpoint(out / "last.pt")["step"]
    assert step in (3, 4)  # the signal lands during step 4's batch; whatever finished is saved
    with (out / "log.csv").open("a") as f:  # a row the interrupted run wrote after its checkpoint
        f.write(f"{step + 1},0,0,64,9.9,0,0,0\n")
    monkeypatch.setattr(train_module, "sample_prior_batch", real_sampler)
    train(tiny_config(out, resume=True))
    steps = [int(line.split(",")[0]) for line in (out / "log.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, 7))  # no step twice


def test_the_run_folder_is_locked_and_stale_temp_files_go(tmp_path, val_cache):
    out = prepared(tmp_path, val_cache, "lock")
    stale = out / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    with train_module.locked_run_folder(out):
        with pytest.raises(RuntimeError, match=f"in use by another training process \\(pid {os.getpid()}\\)"):
            train(tiny_config(out, steps=1))
    assert not stale.exists()
    train(tiny_config(out, steps=1))  # released: the next run may use the folder
    assert load_checkpoint(out / "last.pt")["step"] == 1


def test_validation_log_has_one_column_set_per_sample_size(tmp_path, val_cache):
    out = prepared(tmp_path, val_cache, "val")
    train(tiny_config(out, steps=2, val_every=2))
    header, *rows = (out / "log.csv").read_text().splitlines()
    fields = header.split(",")
    for n in (16, 64):  # tiny_config's validation sizes
        for metric in ("mae_mi", "worst_mi", "zero_mi", "coverage90", "mae_dv"):
            assert f"{metric}_n{n}" in fields
    last = dict(zip(fields, rows[-1].split(","), strict=True))
    assert last["mae_mi_n16"] and last["score"]  # filled at the validation step
    assert float(last["score"]) == pytest.approx((float(last["mae_mi_n16"]) + float(last["mae_mi_n64"])) / 2)


def test_init_from_calibrated_weights_trains_the_raw_quantiles(tmp_path, val_cache):
    """Calibration factors are fitted after training: a run started from calibrated weights resets them."""
    from infonet.checkpoint import model_payload
    from infonet.model import InfoNet

    torch.manual_seed(0)
    calibrated = InfoNet(TINY)
    calibrated.head.width_scale.fill_(0.5)
    source = save_checkpoint(tmp_path / "calibrated.pt", model_payload(calibrated))
    out = prepared(tmp_path, val_cache, "run")
    train(tiny_config(out, steps=2, init_from=str(source)))
    scale = model_from_checkpoint(load_checkpoint(out / "last.pt")).head.width_scale
    assert torch.equal(scale, torch.ones_like(scale))


def test_score_sizes_choose_what_best_pt_is_picked_on(tmp_path, val_cache):
    out = prepared(tmp_path, val_cache, "val")
    val = dataclasses.replace(tiny_config(out).val, score_sizes=(64,))
    train(tiny_config(out, steps=2, val_every=2, val=val))
    header, *rows = (out / "log.csv").read_text().splitlines()
    last = dict(zip(header.split(","), rows[-1].split(","), strict=True))
    assert float(last["score"]) == pytest.approx(float(last["mae_mi_n64"]))
    with pytest.raises(ValueError, match="score sizes"):
        ValidationConfig(sizes=(16, 64), score_sizes=(32,))


def test_init_from_routed_weights_refines_the_expert_of_the_training_range(tmp_path, val_cache):
    """A run started from size-routed weights takes the network for the middle of its n range; with
    init_refine it moves that network to a finer grid and resumes with the same options."""
    from infonet.checkpoint import model_payload
    from infonet.model import InfoNet, SizeRouted

    torch.manual_seed(0)
    short, long = InfoNet(TINY), InfoNet(dataclasses.replace(TINY, dim=16))
    source = save_checkpoint(tmp_path / "routed.pt", model_payload(SizeRouted([short, long], [100])))
    out = prepared(tmp_path, val_cache, "run")
    options = dict(init_from=str(source), init_refine=2, min_len=200, max_len=400)
    train(tiny_config(out, steps=2, **options))
    model = model_from_checkpoint(load_checkpoint(out / "last.pt"))
    assert (model.cfg.dim, model.cfg.grid_size, model.cfg.patch_size) == (16, 32, 8)  # the long one, refined
    train(tiny_config(out, steps=4, resume=True, **options))
    assert load_checkpoint(out / "last.pt")["step"] == 4


def test_sigterm_while_the_validation_set_is_built_is_one_line_and_saves_nothing(tmp_path, monkeypatch):
    """SIGTERM before the first step (the validation set takes minutes the first time): 'interrupted',
    no traceback (scripts/train.py reports KeyboardInterrupt in one line) and no last.pt, so a fresh run can start."""
    import signal

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not interrupt the build")  # not reached: the handler raises first

    monkeypatch.setattr(train_module.ValidationSet, "build", terminated)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path / "run"))
    assert not (tmp_path / "run" / "last.pt").exists()


def test_train_script_errors_are_one_line(tmp_path, val_cache):
    """--seed -1 names the option; a locked run folder is one line, not a RuntimeError traceback."""
    script = [sys.executable, str(ROOT / "scripts" / "train.py")]
    bad = subprocess.run([*script, "--seed", "-1", "--out-dir", str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
    assert "seed" in bad.stderr.splitlines()[-1] and "-1" in bad.stderr.splitlines()[-1], bad.stderr
    out = prepared(tmp_path, val_cache, "held")
    with train_module.locked_run_folder(out):
        held = subprocess.run([*script, "--out-dir", str(out), "--device", "cpu"], capture_output=True, text=True)
    assert held.returncode == 2 and "Traceback" not in held.stderr, held.stderr
    assert f"error: {out} is in use by another training process (pid {os.getpid()})" in held.stderr

import stat
import zipfile

import pytest

from datasets import DataError
from datasets.archive import extract_zip


def make_zip(path, entries):
    """entries: name -> bytes (or a ZipInfo -> bytes for special headers)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_extracts_into_a_fresh_folder(tmp_path):
    archive = make_zip(
        tmp_path / "seq.zip", {"seq/anno.npz": b"123", "seq/rgbs/rgb_00000.jpg": b"x", "seq/empty/": b""}
    )
    first = extract_zip(archive, tmp_path)
    second = extract_zip(archive, tmp_path)
    assert first != second and first.parent == tmp_path.resolve()
    assert (first / "seq" / "anno.npz").read_bytes() == b"123"
    assert (first / "seq" / "rgbs" / "rgb_00000.jpg").read_bytes() == b"x"
    assert (first / "seq" / "empty").is_dir()


@pytest.mark.parametrize(
    "name, reason",
    [
        ("../evil.txt", r"\.\."),
        ("seq/../../evil.txt", r"\.\."),
        ("/etc/evil.txt", "absolute"),
        ("C:/evil.txt", "absolute"),
        ("..\\evil.txt", r"\.\."),
    ],
)
def test_zip_slip_is_refused_before_writing(tmp_path, name, reason):
    archive = make_zip(tmp_path / "evil.zip", {"ok.txt": b"fine", name: b"pwned"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match=reason):
        extract_zip(archive, out)
    assert list(out.iterdir()) == []  # nothing written, no folder left behind
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_entry_is_refused(tmp_path):
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="symbolic link"):
        extract_zip(tmp_path / "link.zip", tmp_path)


def test_size_and_entry_limits(tmp_path):
    archive = make_zip(tmp_path / "big.zip", {f"f{i}.bin": b"\0" * 1000 for i in range(5)})
    with pytest.raises(DataError, match="would unpack to"):
        extract_zip(archive, tmp_path, max_bytes=4000)
    with pytest.raises(DataError, match="5 entries"):
        extract_zip(archive, tmp_path, max_entries=4)
    assert extract_zip(archive, tmp_path, max_bytes=5000, max_entries=5).is_dir()


def test_lying_header_is_stopped_while_writing(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"a.bin": b"\0" * 10_000})
    data = bytearray(archive.read_bytes())
    # shrink the declared size in both headers: the extractor must not trust it
    with zipfile.ZipFile(archive) as zf:
        info = zf.infolist()[0]
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    assert info.file_size == 10_000
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError):
        extract_zip(archive, out, max_bytes=1000)
    assert list(out.iterdir()) == []


def test_not_a_zip(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(DataError, match="not a readable zip"):
        extract_zip(bad, tmp_path)

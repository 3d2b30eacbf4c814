"""Data for object discovery from point tracks: PointOdyssey sequences, synthetic ones, videos.

    from datasets import load_pointodyssey, generate_sequence, SAMPLE_SEQUENCE
    seq = load_pointodyssey(SAMPLE_SEQUENCE)           # frames, valid tracks, ground-truth objects
    seq.tracks.tracks, seq.tracks.object_ids            # (T, N, 2), (N,)
    frames = read_video("clip.mp4", max_side=640)      # (T, H, W, 3) uint8 RGB
    tracks = load_tracks("my_tracks.npz")              # tracks from another tracker
    inp = load_input("davis/soapbox")                  # any input: frames, tracks, ground truth

This package reads and writes data and imports nothing of ``segmentation``: the point tracker,
the camera's motion and the labelling of tracks from masks are ``segmentation``'s.

The package is named ``datasets`` inside this project; ``__infonet_toolkit__`` tells it apart
from the Hugging Face package of the same name.
"""

from .archive import extract_zip
from .davis import DavisSequence, load_davis
from .files import replacing, replacing_all, save_npz
from .inputs import GroundTruth, VideoInput, count_frames, find_sequences, input_kind, load_input
from .pointodyssey import ANNOTATION_FILES, PointOdysseySequence, load_pointodyssey
from .samples import SAMPLE_SEQUENCE, SAMPLE_VIDEO
from .synthetic import generate_sequence
from .tracks import DataError, TrackSet, load_tracks, subsample_indices
from .video import VIDEO_SUFFIXES, read_video, write_video

__infonet_toolkit__ = True

__all__ = [
    "VIDEO_SUFFIXES",
    "extract_zip",
    "replacing",
    "replacing_all",
    "save_npz",
    "ANNOTATION_FILES",
    "SAMPLE_SEQUENCE",
    "SAMPLE_VIDEO",
    "DataError",
    "PointOdysseySequence",
    "TrackSet",
    "generate_sequence",
    "load_pointodyssey",
    "load_tracks",
    "subsample_indices",
    "read_video",
    "write_video",
    "DavisSequence",
    "load_davis",
    "GroundTruth",
    "VideoInput",
    "count_frames",
    "find_sequences",
    "input_kind",
    "load_input",
]

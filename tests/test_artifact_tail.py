"""Following a growing text artifact like `tail -f`: only what was appended is read, whole lines
are handed on, a rewritten or far-ahead file starts again from its tail."""

from __future__ import annotations

from tuitrack.live.artifact_tail import FAR_BEHIND, ArtifactTail
from tuitrack.store.artifacts import READ_BOUND
from tuitrack.store.artifacts.local import LocalArtifacts


class CountingSource(LocalArtifacts):
    """A local folder that records how many bytes each read returned."""

    def __init__(self, root: str):
        super().__init__(root)
        self.reads: list[int] = []

    def read(self, path, start, max_bytes=READ_BOUND):
        chunk = super().read(path, start, max_bytes)
        self.reads.append(len(chunk.data))
        return chunk


def test_appended_lines_are_read_from_the_offset(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("a\nb\n")
    source = CountingSource(str(tmp_path))
    tail = ArtifactTail(source, "train.log", log.stat().st_size)
    assert tail.poll() is None
    with open(log, "a") as f:
        f.write("c\nd")  # d is still being written
    news = tail.poll()
    assert news.text == "c\n" and not news.restarted and news.size == 7
    assert source.reads[-1] == 3  # only the new bytes
    assert tail.poll() is None
    with open(log, "a") as f:
        f.write("one\n")
    assert tail.poll().text == "done\n"


def test_a_rewritten_file_starts_again(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("x" * 100 + "\n")
    tail = ArtifactTail(LocalArtifacts(str(tmp_path)), "train.log", 101)
    log.write_text("new\n")  # truncated and rewritten: smaller than the offset
    news = tail.poll()
    assert news.restarted and news.text == "new\n"
    with open(log, "a") as f:
        f.write("more\n")
    assert tail.poll().text == "more\n"


def test_a_file_far_ahead_skips_to_its_tail_within_the_bound(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("start\n")
    source = CountingSource(str(tmp_path))
    tail = ArtifactTail(source, "train.log", 6)
    with open(log, "a") as f:
        line = "0123456789" * 10 + "\n"
        f.write(line * (FAR_BEHIND // len(line) + 100) + "the end\n")
    news = tail.poll()
    assert news.restarted and news.text.endswith("the end\n") and "start" not in news.text
    assert max(source.reads) <= READ_BOUND


def test_one_line_longer_than_the_bound_is_handed_on(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("")
    tail = ArtifactTail(LocalArtifacts(str(tmp_path)), "train.log", 0)
    log.write_text("y" * (READ_BOUND + 10))
    news = tail.poll()
    assert news is not None and len(news.text) == READ_BOUND

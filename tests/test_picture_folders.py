"""images:DIR reads regular PNG/JPEG/TIFF files only: a picture in another format, or a symbolic link, in a class
folder is refused by name (never silently skipped, never followed); other files are left alone."""

import numpy as np
import pytest
from PIL import Image

from digitnet.data import load_data
from digitnet.errors import DataError


def _folder(root, digits, n=4):
    for i in range(n):
        folder = root / str(int(digits.y[i]))
        folder.mkdir(parents=True, exist_ok=True)
        ink = np.kron(digits.X[i].reshape(8, 8) * 255 / 16, np.ones((4, 4)))  # 32x32, white on black as MNIST
        Image.fromarray(ink.astype(np.uint8)).save(folder / f"{i}.png")
    return root


def test_a_plain_folder_and_its_readme_are_read(tmp_path, digits):
    root = _folder(tmp_path / "pics", digits)
    (root / "0" / "README.txt").write_text("not a picture")
    (root / "0" / ".DS_Store").write_bytes(b"\0\0")
    assert len(load_data(f"images8:{root}").y) == 4


@pytest.mark.parametrize("name, kind", [("x.gif", "GIF"), ("x.BMP", "BMP"), ("x.webp", "WEBP")])
def test_a_picture_in_another_format_is_refused_by_name(tmp_path, digits, name, kind):
    root = _folder(tmp_path / "pics", digits)
    Image.new("L", (32, 32), 0).save(root / "1" / name, format="GIF" if kind == "GIF" else "BMP")
    with pytest.raises(DataError) as e:
        load_data(f"images8:{root}")
    assert str(e.value) == (f"{root / '1' / name}: a {kind} picture: digitnet reads PNG, JPEG and TIFF pictures "
                            "only; convert it to PNG, or move it out of the folder")


def test_a_symbolic_link_in_a_class_folder_is_refused_not_followed(tmp_path, digits):
    root = _folder(tmp_path / "pics", digits)
    outside = tmp_path / "outside.png"
    Image.new("L", (32, 32), 0).save(outside)
    (root / "1" / "link.png").symlink_to(outside)
    with pytest.raises(DataError, match=r"link\.png: a symbolic link; a class folder's pictures are read only as "
                                        "regular files"):
        load_data(f"images8:{root}")
